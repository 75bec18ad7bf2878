"""Class projects: who sees which project, deadlines, assignments, the student's writing desk,
the teacher's follow-up (progress read from the review workflow) and the archivists' "make a
collection" of the published responses."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest

from tests.conftest import in_action, make_jpeg

TOMORROW = (date.today() + timedelta(days=1)).isoformat()


def _start(teacher_client, world, archive, **extra):
    data = {
        "class_id": str(world.class_id),
        "dossier_id": str(archive.dossier_id),
        "deadline": TOMORROW,
        "title": "Mémoires du bidonville",
        **extra,
    }
    return teacher_client.post("/projects/", data=data)


@pytest.fixture
def project(app, world, archive, login):
    """A project for class 4e B, with Amina on the first document and Yanis on the second."""
    teacher = login("teacher@example.org")
    started = _start(teacher, world, archive)
    assert started.status_code == 303, started.get_data(as_text=True)
    project_id = int(started.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    first, second = archive.documents
    assigned = teacher.post(
        f"/projects/{project_id}/assignments",
        data={f"document-{world.student}": str(first), f"document-{world.classmate}": str(second)},
    )
    assert assigned.status_code == 303
    return project_id


def _write(client, project_id, action="hand_in", **fields):
    data = {
        "action": action,
        "analysis_what": "Une lettre",
        "analysis_who": "Un habitant",
        "title": "Ce que dit la lettre",
        "body": "Il demande un logement.",
        "language": "fr",
        "licence": "CC-BY-4.0",
        "consent": "yes",
        **fields,
    }
    return client.post(f"/projects/{project_id}/write", data=data)


def _status_of_response(app, project_id, student_id):
    from webapp.extensions import db
    from webapp.models import ProjectWork

    with app.app_context():
        work = db.session.scalar(
            db.select(ProjectWork).where(
                ProjectWork.project_id == project_id, ProjectWork.student_id == student_id
            )
        )
        return (work.story_id, work.story.status) if work and work.story else (None, None)


# --- deadlines ---------------------------------------------------------------------------------


def test_a_deadline_must_be_a_real_day_from_today_to_a_year_ahead(app, world, archive, login):
    teacher = login("teacher@example.org")
    today = date.today()
    for deadline, words in (
        ("", "deadline"),
        ("15/03/2027", "année-mois-jour"),
        ("2027-02-30", "année-mois-jour"),
        ((today - timedelta(days=1)).isoformat(), "déjà passée"),
        ((today + timedelta(days=500)).isoformat(), "plus d’un an"),
    ):
        refused = _start(teacher, world, archive, deadline=deadline)
        assert refused.status_code == 400, deadline
        assert words in refused.get_data(as_text=True)
        assert "Mémoires du bidonville" in refused.get_data(as_text=True)  # the form is kept
    assert _start(teacher, world, archive, deadline=today.isoformat()).status_code == 303


def test_parse_deadline_is_measured_from_the_given_day():
    from webapp.errors import BadRequest
    from webapp.services.projects import parse_deadline

    assert parse_deadline(" 2027-01-10 ", today=date(2027, 1, 10)) == date(2027, 1, 10)
    with pytest.raises(BadRequest):
        parse_deadline("2027-01-09", today=date(2027, 1, 10))


def test_moving_the_deadline_is_checked_the_same_way(app, world, archive, login, project):
    teacher = login("teacher@example.org")
    moved = teacher.post(
        f"/projects/{project}/settings", data={"deadline": "2000-01-01", "instructions": "x"}
    )
    assert "déjà passée" in teacher.get(moved.headers["Location"]).get_data(as_text=True)
    later = (date.today() + timedelta(days=30)).isoformat()
    teacher.post(f"/projects/{project}/settings", data={"deadline": later, "instructions": "Lire"})
    assert later in teacher.get(f"/projects/{project}").get_data(as_text=True)


# --- who sees what -----------------------------------------------------------------------------


def test_a_teacher_only_sees_and_runs_projects_of_their_own_classes(
    app, world, archive, login, project
):
    other = login("other.teacher@example.org")
    assert other.get(f"/projects/{project}").status_code == 404
    assert "Mémoires du bidonville" not in other.get("/projects/").get_data(as_text=True)
    assert other.post(f"/projects/{project}/assignments", data={}).status_code == 303
    assert (
        other.post(f"/projects/{project}/settings", data={"deadline": TOMORROW}).status_code == 303
    )
    refused = _start(other, world, archive)  # 4e B is not their class
    assert refused.status_code == 404
    own = login("teacher@example.org")
    assert "Mémoires du bidonville" in own.get("/projects/").get_data(as_text=True)
    assert own.get(f"/projects/{project}").status_code == 200


def test_other_teachers_changes_do_nothing(app, world, archive, login, project):
    other = login("other.teacher@example.org")
    other.post(f"/projects/{project}/assignments", data={f"document-{world.student}": ""})
    from webapp.extensions import db
    from webapp.models import ClassProject

    with app.app_context():
        row = db.session.get(ClassProject, project)
        assert {w.student_id: w.document_id for w in row.works}[world.student] is not None


def test_students_only_see_their_own_class_projects(
    app, world, archive, login, project, student_client
):
    assert "Mémoires du bidonville" in student_client.get("/projects/").get_data(as_text=True)
    assert student_client.get(f"/projects/{project}/write").status_code == 200
    assert student_client.get(f"/projects/{project}").status_code == 302  # to the writing screen
    lea = app.test_client()  # in the other teacher's class
    from webapp.extensions import db
    from webapp.models import SchoolClass
    from webapp.services import classes

    with app.app_context():
        code = db.session.get(SchoolClass, world.other_class_id).code
        fresh = in_action(
            classes.reset_student_access,
            db.session.get(
                __import__("webapp.models", fromlist=["User"]).User, world.other_teacher
            ),
            world.other_student,
        )
        access_code = fresh.access_code
    lea.post("/class-login", data={"code": code, "pseudonym": "Léa", "access_code": access_code})
    assert lea.get(f"/projects/{project}/write").status_code == 404
    assert "Mémoires du bidonville" not in lea.get("/projects/").get_data(as_text=True)
    assert _write(lea, project).status_code == 404


def test_only_teachers_start_projects(app, world, archive, login, student_client):
    archivist = login("archivist@example.org")
    assert _start(archivist, world, archive).status_code == 403
    assert _start(student_client, world, archive).status_code == 403
    member = login("member@example.org")
    assert member.get("/projects/").status_code == 403


def test_a_draft_dossier_cannot_be_used_for_a_project(app, world, archive, login):
    login("archivist@example.org").post(
        f"/curation/dossiers/{archive.dossier_id}", data={"title": "En travaux"}
    )
    assert _start(login("teacher@example.org"), world, archive).status_code == 404


# --- assignments -------------------------------------------------------------------------------


def test_groups_share_one_document_and_one_story(
    app, world, archive, login, project, student_client
):
    teacher = login("teacher@example.org")
    first, second = archive.documents
    clash = teacher.post(
        f"/projects/{project}/assignments",
        data={
            f"document-{world.student}": str(first),
            f"group-{world.student}": "Les archivistes",
            f"document-{world.classmate}": str(second),
            f"group-{world.classmate}": "les  archivistes",
        },
    )
    assert "même document" in teacher.get(clash.headers["Location"]).get_data(as_text=True)
    teacher.post(
        f"/projects/{project}/assignments",
        data={
            f"document-{world.student}": str(first),
            f"group-{world.student}": "Les archivistes",
            f"document-{world.classmate}": str(first),
            f"group-{world.classmate}": "Les archivistes",
        },
    )
    assert _write(student_client, project).status_code == 303
    yanis = _student_login(app, world, "Yanis", world.classmate)
    desk = yanis.get(f"/projects/{project}/write").get_data(as_text=True)
    assert "Ce que dit la lettre" in desk and 'name="title"' not in desk
    assert _write(yanis, project, title="Doublon").status_code == 400
    assert _status_of_response(app, project, world.classmate) == (None, None)
    page = teacher.get(f"/projects/{project}").get_data(as_text=True)
    assert page.count("Ce que dit la lettre") == 2  # both members follow the group's story


def _student_login(app, world, pseudonym, student_id):
    from webapp.extensions import db
    from webapp.models import User
    from webapp.services import classes

    with app.app_context():
        fresh = in_action(
            classes.reset_student_access, db.session.get(User, world.teacher), student_id
        )
    client = app.test_client()
    client.post(
        "/class-login",
        data={"code": world.class_code, "pseudonym": pseudonym, "access_code": fresh.access_code},
    )
    return client


def test_free_choice_lets_students_pick_among_the_dossier_documents(
    app, world, archive, login, student_client
):
    teacher = login("teacher@example.org")
    started = _start(teacher, world, archive, free_choice="yes")
    project_id = int(started.headers["Location"].rsplit("/", 1)[1])
    desk = student_client.get(f"/projects/{project_id}/write").get_data(as_text=True)
    assert 'name="document_id"' in desk
    assert (
        student_client.post(
            f"/projects/{project_id}/choose", data={"document_id": "99999"}
        ).status_code
        == 303
    )
    student_client.post(
        f"/projects/{project_id}/choose", data={"document_id": str(archive.documents[1])}
    )
    desk = student_client.get(f"/projects/{project_id}/write").get_data(as_text=True)
    assert "Photographie du bidonville" in desk and 'name="document_id"' not in desk


def test_without_free_choice_a_student_waits_for_the_teacher(
    app, world, archive, login, student_client
):
    teacher = login("teacher@example.org")
    started = _start(teacher, world, archive)
    project_id = int(started.headers["Location"].rsplit("/", 1)[1])
    desk = student_client.get(f"/projects/{project_id}/write").get_data(as_text=True)
    assert 'name="document_id"' not in desk and 'name="title"' not in desk
    student_client.post(
        f"/projects/{project_id}/choose", data={"document_id": str(archive.documents[0])}
    )
    assert _write(student_client, project_id).status_code == 400
    assert _status_of_response(app, project_id, world.student) == (None, None)


def test_distributing_gives_every_student_without_a_document_one_in_turn(
    app, world, archive, login
):
    teacher = login("teacher@example.org")
    project_id = int(_start(teacher, world, archive).headers["Location"].rsplit("/", 1)[1])
    teacher.post(f"/projects/{project_id}/assignments", data={"distribute": "yes"})
    from webapp.extensions import db
    from webapp.models import ClassProject

    with app.app_context():
        works = db.session.get(ClassProject, project_id).works
        assert sorted(w.document_id for w in works) == sorted(archive.documents)


# --- the writing desk and progress ------------------------------------------------------------


def test_progress_follows_the_review_workflow_from_not_started_to_published(
    app, world, archive, login, project, student_client
):
    from webapp.services.projects import Progress

    teacher = login("teacher@example.org")

    def progress_of_amina():
        from webapp.extensions import db
        from webapp.models import User
        from webapp.services import projects

        with app.app_context():
            rows = projects.progress_rows(db.session.get(User, world.teacher), project)
            return next(r.progress for r in rows if r.student.id == world.student)

    assert progress_of_amina() == Progress.NOT_STARTED
    desk = student_client.get(f"/projects/{project}/write").get_data(as_text=True)
    assert "Lettre au préfet" in desk and 'name="analysis_silent"' in desk
    student_client.post(
        f"/projects/{project}/write", data={"action": "notes", "analysis_who": "Un père"}
    )
    assert progress_of_amina() == Progress.WRITING
    assert "Un père" in student_client.get(f"/projects/{project}/write").get_data(as_text=True)

    saved = _write(
        student_client,
        project,
        action="draft",
        images=(io.BytesIO(make_jpeg()), "moi.jpg"),
        alt_texts="Ma photo de la cité",
    )
    assert saved.status_code == 303
    story_id, status = _status_of_response(app, project, world.student)
    assert status == "draft" and progress_of_amina() == Progress.WRITING
    assert "Ce que dit la lettre" not in teacher.get("/moderation/").get_data(as_text=True)

    _write(student_client, project, action="hand_in", title="Ma réponse à la lettre")
    assert _status_of_response(app, project, world.student) == (story_id, "submitted")
    with app.app_context():
        from webapp.extensions import db
        from webapp.models import Story
        from webapp.services import documents

        answered = documents.responded_documents(db.session.get(Story, story_id))
        assert [d.id for d in answered] == [archive.documents[0]]  # responds_to is recorded
    assert progress_of_amina() == Progress.HANDED_IN
    follow_up = teacher.get(f"/projects/{project}").get_data(as_text=True)
    assert "Ma réponse à la lettre" in follow_up and 'value="forward"' in follow_up

    teacher.post(
        f"/projects/{project}/responses/{story_id}", data={"decision": "return", "note": "Date ?"}
    )
    assert progress_of_amina() == Progress.RETURNED
    desk = student_client.get(f"/projects/{project}/write").get_data(as_text=True)
    assert "Date ?" in desk
    _write(student_client, project, action="hand_in", body="En 1962, il demande un logement.")
    assert progress_of_amina() == Progress.HANDED_IN

    teacher.post(
        f"/moderation/stories/{story_id}/consent",
        data={"what": "guardian", "given_by": "mère"},
    )
    teacher.post(f"/projects/{project}/responses/{story_id}", data={"decision": "forward"})
    assert progress_of_amina() == Progress.FORWARDED
    # A teacher cannot publish, whatever the form says.
    teacher.post(f"/projects/{project}/responses/{story_id}", data={"decision": "publish"})
    assert progress_of_amina() == Progress.FORWARDED

    archivist = login("archivist@example.org")
    archivist.post(f"/moderation/stories/{story_id}", data={"decision": "approve"})
    archivist.post(f"/moderation/stories/{story_id}", data={"decision": "publish"})
    assert progress_of_amina() == Progress.PUBLISHED
    assert 'name="title"' not in student_client.get(f"/projects/{project}/write").get_data(
        as_text=True
    )


def test_every_workflow_status_has_a_progress():
    from webapp.models import StoryStatus
    from webapp.services.projects import PROGRESS_OF_STATUS

    assert set(PROGRESS_OF_STATUS) == set(StoryStatus)


def test_a_teacher_moves_only_responses_of_their_project(
    app, world, archive, login, project, new_story
):
    teacher = login("teacher@example.org")
    outside = new_story(world.student, title="Hors projet")
    moved = teacher.post(f"/projects/{project}/responses/{outside}", data={"decision": "return"})
    assert moved.status_code == 303
    from webapp.extensions import db
    from webapp.models import Story

    with app.app_context():
        assert db.session.get(Story, outside).status == "submitted"


def test_a_refused_hand_in_leaves_no_story_behind(app, world, archive, project, student_client):
    refused = _write(student_client, project, consent="")  # the contributor's consent is missing
    assert refused.status_code == 422
    assert "Ce que dit la lettre" in refused.get_data(as_text=True)  # the text is kept
    assert _status_of_response(app, project, world.student) == (None, None)
    refused = _write(student_client, project, images=(io.BytesIO(make_jpeg()), "a.jpg"))
    assert refused.status_code == 422  # an image without its description
    assert _status_of_response(app, project, world.student) == (None, None)


# --- archivists: the collection of published responses ----------------------------------------


def test_an_archivist_turns_the_published_responses_into_a_collection(
    app, world, archive, login, project, student_client
):
    from webapp.extensions import db
    from webapp.models import ClassProject, User
    from webapp.services import review

    _write(student_client, project)
    yanis = _student_login(app, world, "Yanis", world.classmate)
    _write(yanis, project, title="Ce que montre la photo")
    published_id, _ = _status_of_response(app, project, world.student)
    teacher = login("teacher@example.org")
    teacher.post(
        f"/moderation/stories/{published_id}/consent", data={"what": "guardian", "given_by": "père"}
    )
    with app.app_context():
        in_action(
            review.review, published_id, "approve", None, db.session.get(User, world.archivist)
        )

    assert teacher.post(f"/projects/{project}/collection").status_code == 403
    archivist = login("archivist@example.org")
    listing = archivist.get("/projects/").get_data(as_text=True)
    assert "Mémoires du bidonville" in listing
    made = archivist.post(f"/projects/{project}/collection")
    assert made.status_code == 303
    with app.app_context():
        collection = db.session.get(ClassProject, project).collection
        slug = collection.slug
        assert [i.story_id for i in collection.items] == [published_id]
        assert "4e B" in collection.introduction and "Champigny" in collection.introduction
    page = app.test_client().get(f"/collections/{slug}").get_data(as_text=True)
    assert "Ce que dit la lettre" in page and "Ce que montre la photo" not in page
    again = archivist.post(f"/projects/{project}/collection")  # adds only what is new
    assert again.status_code == 303
    with app.app_context():
        assert len(db.session.get(ClassProject, project).collection.items) == 1


def test_no_collection_without_a_published_response(app, world, archive, login, project):
    archivist = login("archivist@example.org")
    refused = archivist.post(f"/projects/{project}/collection")
    assert "aucune réponse de ce projet n’est encore publiée" in archivist.get(
        refused.headers["Location"]
    ).get_data(as_text=True)


def test_erasing_a_response_puts_the_student_back_to_not_started(
    app, world, archive, project, student_client
):
    from webapp.extensions import db
    from webapp.models import User
    from webapp.services import erasure, projects

    _write(student_client, project)
    story_id, _ = _status_of_response(app, project, world.student)
    with app.app_context():
        in_action(erasure.erase_story, story_id, db.session.get(User, world.archivist))
        in_action(erasure.erase_story, archive.documents[1], db.session.get(User, world.archivist))
        rows = projects.progress_rows(db.session.get(User, world.teacher), project)
        amina = next(r for r in rows if r.student.id == world.student)
        assert amina.story is None and amina.progress == projects.Progress.WRITING  # notes kept
        yanis = next(r for r in rows if r.student.id == world.classmate)
        assert yanis.document is None


def test_indicators_count_projects_classes_and_responses_per_document(
    app, world, archive, login, project, student_client
):
    from webapp.services import projects

    _write(student_client, project)
    _write(_student_login(app, world, "Yanis", world.classmate), project, action="draft")
    with app.app_context():
        figures = projects.indicators()
    assert (figures.dossiers, figures.projects, figures.classes) == (1, 1, 1)
    by_document = {row.document.id: row for row in figures.documents}
    first, second = archive.documents
    assert (by_document[first].projects, by_document[first].classes) == (1, 1)
    assert (by_document[first].responses, by_document[first].published) == (1, 0)
    assert (by_document[second].responses, by_document[second].published) == (1, 0)
    page = login("archivist@example.org").get("/indicators/").get_data(as_text=True)
    assert 'id="teaching"' in page and "Lettre au préfet" in page
    assert login("teacher@example.org").get("/indicators/").status_code == 403


def test_distributing_a_dossier_whose_documents_were_all_withdrawn_says_so(
    app, world, archive, login, project
):
    from webapp.extensions import db
    from webapp.models import User
    from webapp.services import review

    with app.app_context():
        for document_id in archive.documents:
            in_action(review.withdraw, document_id, "droits", db.session.get(User, world.archivist))
    teacher = login("teacher@example.org")
    answer = teacher.post(f"/projects/{project}/assignments", data={"distribute": "yes"})
    page = teacher.get(answer.headers["Location"]).get_data(as_text=True)
    assert "plus de document publié" in page
