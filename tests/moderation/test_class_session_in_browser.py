"""A class session entirely through the web pages: create class → students join → submit →
teacher forwards → archivist publishes — plus what each person must not be able to do there."""

from __future__ import annotations

import re

from tests.conftest import PASSWORD, submit_story_now


def _login(app, email: str):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code in (302, 303), response.status_code
    return client


def _status(app, story_id: int) -> str:
    from webapp.extensions import db
    from webapp.models import Story

    with app.app_context():
        return db.session.get(Story, story_id).status


def test_a_class_session_runs_entirely_in_the_browser(app, world):
    from webapp.extensions import db
    from webapp.models import SchoolClass, Story

    teacher = _login(app, "teacher@example.org")
    created = teacher.post("/classes/", data={"name": "3e C"})
    assert created.status_code == 303
    with app.app_context():
        klass = db.session.scalar(db.select(SchoolClass).where(SchoolClass.name == "3e C"))
        code, class_id = klass.code, klass.id
    assert code in teacher.get(f"/classes/{class_id}/sheet").get_data(as_text=True)

    student = app.test_client()
    joined = student.post("/join", data={"code": code.lower(), "pseudonym": "Nour"})
    page = joined.get_data(as_text=True)
    assert joined.status_code == 200 and code in page
    access_code = re.search(
        r'<dd class="code"><strong>([A-Z0-9]{4}-[A-Z0-9]{4})</strong>', page
    ).group(1)
    sent = student.post(
        "/submit",
        data={
            "title": "Le voyage de ma grand-mère",
            "body": "Elle est arrivée à Orly en 1971.",
            "language": "fr",
            "licence": "CC-BY-4.0",
            "consent": "yes",
            "minor": "yes",
        },
    )
    assert sent.status_code == 303
    with app.app_context():
        story = db.session.scalar(db.select(Story).where(Story.title.like("Le voyage%")))
        story_id = story.id
        assert story.class_id == class_id

    queue = teacher.get("/moderation/").get_data(as_text=True)
    assert "Le voyage de ma grand-mère" in queue
    page = teacher.get(f"/moderation/stories/{story_id}").get_data(as_text=True)
    assert 'value="forward"' in page and 'value="publish"' not in page
    teacher.post(f"/moderation/stories/{story_id}", data={"decision": "publish"})
    assert _status(app, story_id) == "submitted"
    teacher.post(
        f"/moderation/stories/{story_id}/consent",
        data={"what": "guardian", "given_by": "mère, formulaire signé"},
    )
    teacher.post(f"/moderation/stories/{story_id}", data={"decision": "forward"})
    assert _status(app, story_id) == "in_review"

    archivist = _login(app, "archivist@example.org")
    assert "Le voyage" in archivist.get("/moderation/?status=in_review&has_images=no").get_data(
        as_text=True
    )
    archivist.post(f"/moderation/stories/{story_id}", data={"decision": "approve"})
    archivist.post(f"/moderation/stories/{story_id}", data={"decision": "publish"})
    assert _status(app, story_id) == "published"
    assert app.test_client().get(f"/api/v1/stories/{story_id}").json["status"] == "published"

    again = app.test_client()
    login = again.post(
        "/class-login", data={"code": code, "pseudonym": "Nour", "access_code": access_code}
    )
    assert login.status_code == 303
    assert "publi" in again.get("/me").get_data(as_text=True)


def test_returned_story_is_reworked_and_handed_in_again_by_the_student(app, world):
    from webapp.extensions import db
    from webapp.models import Story

    student = app.test_client()
    student.post(
        "/class-login",
        data={"code": world.class_code, "pseudonym": "Amina", "access_code": world.student_code},
    )
    student.post(
        "/submit",
        data={
            "title": "Brouillon",
            "body": "court",
            "language": "fr",
            "licence": "CC-BY-4.0",
            "consent": "yes",
        },
    )
    with app.app_context():
        story_id = db.session.scalar(db.select(Story.id).where(Story.title == "Brouillon"))
    teacher = _login(app, "teacher@example.org")
    teacher.post(
        f"/moderation/stories/{story_id}", data={"decision": "return", "note": "Plus long"}
    )
    assert _status(app, story_id) == "returned"
    assert "Plus long" in student.get("/me").get_data(as_text=True)
    student.post(
        f"/me/stories/{story_id}",
        data={"title": "Mon histoire", "body": "beaucoup plus long", "resubmit": "yes"},
    )
    assert _status(app, story_id) == "submitted"


def test_students_and_other_teachers_are_kept_out_of_moderation_pages(app, world, new_story):
    story_id = new_story(world.student)
    student = app.test_client()
    student.post(
        "/class-login",
        data={"code": world.class_code, "pseudonym": "Amina", "access_code": world.student_code},
    )
    assert student.get("/moderation/").status_code == 403
    assert student.get("/classes/").status_code == 403
    assert student.get("/admin/").status_code == 403
    other = _login(app, "other.teacher@example.org")
    assert other.get(f"/moderation/stories/{story_id}").status_code == 404
    assert other.get(f"/classes/{world.class_id}").status_code == 404
    assert "Vitry" not in other.get("/moderation/").get_data(as_text=True)
    anonymous = app.test_client()
    assert anonymous.get("/moderation/").status_code in (302, 401)


def test_archivist_bulk_approves_and_edits_metadata(app, world, new_story):
    first, second = new_story(world.member), new_story(world.member)
    archivist = _login(app, "archivist@example.org")
    archivist.post("/moderation/bulk", data={"action": "approve", "story_id": [first, second]})
    assert _status(app, first) == _status(app, second) == "published"
    archivist.post(
        f"/moderation/stories/{first}/metadata",
        data={
            "title": "Le marché",
            "places": "Vitry",
            "period": "1962",
            "themes": "work",
            "licence": "CC-BY-4.0",
            "credit": "Famille B.",
        },
    )
    page = archivist.get(f"/moderation/stories/{first}").get_data(as_text=True)
    assert "description modifiée" in page and "Famille B." in page


def test_takedown_form_reaches_the_archivists_queue(app, world, new_story, publish):
    story_id = new_story(world.member)
    publish(story_id)
    public = app.test_client()
    assert public.get(f"/takedown?story_id={story_id}").status_code == 200
    sent = public.post("/takedown", data={"story_id": str(story_id), "reason": "C'est ma photo"})
    assert sent.status_code == 200
    archivist = _login(app, "archivist@example.org")
    assert "C&#39;est ma photo" in archivist.get("/moderation/").get_data(as_text=True)


def test_admin_creates_organisation_and_invitation_link(app, world):
    admin = _login(app, "admin@example.org")
    admin.post("/admin/", data={"what": "organisation", "name": "Archives 94", "kind": "archive"})
    page = admin.post(
        "/admin/", data={"what": "invitation", "email": "x@example.org", "role": "archivist"}
    ).get_data(as_text=True)
    link = re.search(r"/invitations/[\w-]+", page).group(0)
    newcomer = app.test_client()
    assert newcomer.get(link).status_code == 200
    done = newcomer.post(link, data={"display_name": "X", "password": "long-enough-pw"})
    assert done.status_code == 303
    assert newcomer.get(link).status_code == 404


def test_password_login_backs_off_after_repeated_failures(app, world):
    client = app.test_client()
    for _ in range(app.extensions["passages.settings"].login_free_attempts):
        wrong = client.post("/login", data={"email": "teacher@example.org", "password": "nope"})
        assert wrong.status_code == 401
    waiting = client.post("/login", data={"email": "teacher@example.org", "password": PASSWORD})
    assert waiting.status_code == 429
    assert int(waiting.headers["Retry-After"]) > 0
    assert client.get("/moderation/").status_code in (302, 401)


def test_status_page_shows_the_history_with_the_teachers_comment(app, world, new_story):
    from webapp.extensions import db
    from webapp.models import Story

    story_id = new_story(world.student)
    teacher = _login(app, "teacher@example.org")
    teacher.post(f"/moderation/stories/{story_id}", data={"decision": "return", "note": "Date ?"})
    with app.app_context():
        token = db.session.get(Story, story_id).status_token
    page = app.test_client().get(f"/status/{token}").get_data(as_text=True)
    assert "Date ?" in page and "renvoyée à l’élève" in page


def test_review_page_shows_images_with_their_processing_state_and_rights(app, world):
    import io

    from tests.conftest import make_jpeg, story_metadata
    from webapp.extensions import db
    from webapp.models import User
    from webapp.services import submissions

    with app.app_context():
        story = submit_story_now(
            story_metadata(credit="Famille K."),
            [submissions.IncomingImage("photo.jpg", io.BytesIO(make_jpeg()))],
            submitter=db.session.get(User, world.member),
        )
        story_id, media_id = story.id, story.media[0].id
    archivist = _login(app, "archivist@example.org")
    page = archivist.get(f"/moderation/stories/{story_id}").get_data(as_text=True)
    assert "photo.jpg" in page and "pending" in page and "Famille K." in page
    saved = archivist.post(
        f"/moderation/media/{media_id}/rights", data={"licence": "CC0-1.0", "credit": ""}
    )
    assert saved.status_code == 303
    assert "CC0-1.0" in archivist.get(f"/moderation/stories/{story_id}").get_data(as_text=True)


def test_student_keeps_a_draft_the_teacher_cannot_see_then_hands_it_in(app, world):
    from webapp.extensions import db
    from webapp.models import Story

    student = app.test_client()
    student.post(
        "/class-login",
        data={"code": world.class_code, "pseudonym": "Amina", "access_code": world.student_code},
    )
    saved = student.post(
        "/submit",
        data={
            "title": "Pas fini",
            "body": "début",
            "language": "fr",
            "licence": "CC-BY-4.0",
            "consent": "yes",
            "draft": "yes",
        },
    )
    assert saved.status_code == 303
    with app.app_context():
        story_id = db.session.scalar(db.select(Story.id).where(Story.title == "Pas fini"))
    assert _status(app, story_id) == "draft"
    teacher = _login(app, "teacher@example.org")
    assert "Pas fini" not in teacher.get("/moderation/").get_data(as_text=True)
    assert teacher.get(f"/moderation/stories/{story_id}").status_code == 404
    student.post(
        f"/me/stories/{story_id}", data={"title": "Fini", "body": "tout", "resubmit": "yes"}
    )
    assert _status(app, story_id) == "submitted"
    assert "Fini" in teacher.get("/moderation/").get_data(as_text=True)
