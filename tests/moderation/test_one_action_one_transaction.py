"""One user action is one transaction with one audit entry and its own events — no more, no less.

Each test here failed on the main before the unit of work: the services committed on their own,
so one click could be several transactions (a draft first "submitted" then recalled; edits saved
although the hand-in was refused; a failed submission cleaned up by hand-written code).
"""

from __future__ import annotations

import io

import pytest

from tests.conftest import PASSWORD, in_action, make_jpeg, story_metadata


def _login(app, email: str):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code in (302, 303), response.status_code
    return client


def _student(app, world):
    client = app.test_client()
    response = client.post(
        "/class-login",
        data={"code": world.class_code, "pseudonym": "Amina", "access_code": world.student_code},
    )
    assert response.status_code in (302, 303)
    return client


def _rows(app, story_id: int) -> dict[str, list[str]]:
    from webapp.extensions import db
    from webapp.models import AuditEntry, Notification, OutboxEvent

    with app.app_context():
        events = db.session.scalars(db.select(OutboxEvent).order_by(OutboxEvent.id)).all()
        return {
            "events": [e.event_type for e in events if e.payload.get("story_id") == story_id],
            "audit": db.session.scalars(
                db.select(AuditEntry.action)
                .where(AuditEntry.subject_type == "story", AuditEntry.subject_id == story_id)
                .order_by(AuditEntry.id)
            ).all(),
            "notifications": db.session.scalars(
                db.select(Notification.message).where(Notification.story_id == story_id)
            ).all(),
        }


def _story(app, title: str):
    from webapp.extensions import db
    from webapp.models import Story

    with app.app_context():
        story = db.session.scalar(db.select(Story).where(Story.title == title))
        db.session.expunge(story)
        return story


def test_save_as_draft_creates_a_draft_without_handing_it_in(app, world):
    student = _student(app, world)
    saved = student.post(
        "/submit",
        data={
            "title": "Pas encore fini",
            "body": "début",
            "language": "fr",
            "licence": "CC-BY-4.0",
            "consent": "yes",
            "draft": "yes",
            "alt_texts": "Ma grand-mère au marché",
            "images": [(io.BytesIO(make_jpeg(seed=5)), "marche.jpg")],
        },
        content_type="multipart/form-data",
    )
    assert saved.status_code == 303
    story = _story(app, "Pas encore fini")
    assert story.status == "draft"
    rows = _rows(app, story.id)
    # No story.submitted (so no image or index job for a draft), no recall, nobody told that the
    # story "was handed in": one action, one audit entry.
    assert rows == {"events": [], "audit": ["story.draft_saved"], "notifications": []}
    # The positive control: handing it in later emits the submission and tells the teacher.
    student.post(
        f"/me/stories/{story.id}", data={"title": "Fini", "body": "tout", "resubmit": "yes"}
    )
    rows = _rows(app, story.id)
    assert "story.submitted" in rows["events"]
    assert rows["audit"][-1] == "story.submit"
    assert any("handed in" in message for message in rows["notifications"])


def test_a_hand_in_that_fails_leaves_the_edits_unsaved(app, world, new_story, user, monkeypatch):
    """Editing and handing in again is one action: if the hand-in fails, the edits typed in the
    same form are not saved either (the student sees the old text and can try again)."""
    from webapp.extensions import db
    from webapp.models import Story
    from webapp.services import outbox, review

    story_id = new_story(world.student, title="Le marché")
    with app.app_context():
        in_action(review.apply, story_id, "return", user(world.teacher), "Ajoute une date")
    student = _student(app, world)
    real_emit = outbox.emit

    def emit_failing_on_hand_in(event_type, payload, *args, **kwargs):
        if event_type == "story.resubmitted":
            raise RuntimeError("the database went away during the hand-in")
        return real_emit(event_type, payload, *args, **kwargs)

    monkeypatch.setattr(outbox, "emit", emit_failing_on_hand_in)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = student.post(
        f"/me/stories/{story_id}",
        data={"title": "Le marché du samedi", "body": "Nouveau texte", "resubmit": "yes"},
    )
    assert response.status_code == 500
    with app.app_context():
        story = db.session.get(Story, story_id)
        assert (story.title, story.status) == ("Le marché", "returned")
    assert "story.metadata_edited" not in _rows(app, story_id)["events"]
    # Control: the same form without the fault saves the edits and hands the story in.
    monkeypatch.setattr(outbox, "emit", real_emit)
    response = student.post(
        f"/me/stories/{story_id}",
        data={"title": "Le marché du samedi", "body": "Nouveau texte", "resubmit": "yes"},
    )
    assert response.status_code == 303
    with app.app_context():
        story = db.session.get(Story, story_id)
        assert (story.title, story.status) == ("Le marché du samedi", "submitted")


def test_a_submission_that_fails_after_storing_removes_its_objects(app, make_user, monkeypatch):
    """The rollback compensation runs when the action fails after the service returned (here:
    the commit itself), not only inside the service."""
    from webapp.extensions import db
    from webapp.models import Story, User
    from webapp.services import backends, submissions
    from webapp.unit_of_work import unit_of_work

    user_id = make_user("contributor")
    with app.app_context():
        submitter = db.session.get(User, user_id)
        with pytest.raises(RuntimeError), unit_of_work() as uow:
            submissions.submit_story(
                uow,
                story_metadata(),
                [submissions.IncomingImage("a.jpg", io.BytesIO(make_jpeg(seed=21)))],
                submitter=submitter,
            )
            assert len(list(backends.object_store().list("originals/"))) == 1  # control
            raise RuntimeError("the view failed after the service")
        assert list(backends.object_store().list("originals/")) == []
        assert db.session.scalar(db.select(db.func.count()).select_from(Story)) == 0


def test_bulk_moderation_is_one_unit_of_work_per_story_with_a_report(app, world, new_story, user):
    """One story that cannot take the decision is reported by number and reason; the others are
    done, each with its own audit entry and event."""
    from webapp.extensions import db
    from webapp.models import Story
    from webapp.services import review

    ready = [new_story(world.member, title=f"Prêt {n}") for n in range(2)]
    moved = new_story(world.member, title="Déjà rejeté")
    with app.app_context():
        in_action(review.apply, moved, "reject", user(world.archivist), "doublon")
    archivist = _login(app, "archivist@example.org")
    response = archivist.post(
        "/moderation/bulk",
        data={"action": "start_review", "story_id": [*map(str, ready), str(moved)]},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "fait pour 2 histoires sur 3" in page
    assert f"#{moved}" in page and "refusée" in page
    with app.app_context():
        statuses = {sid: db.session.get(Story, sid).status for sid in [*ready, moved]}
    assert statuses == {ready[0]: "in_review", ready[1]: "in_review", moved: "rejected"}
    for story_id in ready:
        rows = _rows(app, story_id)
        assert rows["audit"].count("story.start_review") == 1
        assert rows["events"].count("story.review_started") == 1


def test_an_api_approval_is_one_audit_entry_naming_its_moves_with_each_event(
    app, world, new_story, token_for
):
    """ "approve" on a submitted story starts the review, approves and publishes: three moves,
    three events (the index follows each status), one action in the audit log."""
    story_id = new_story(world.member)
    token = token_for(world.archivist)
    response = app.test_client().post(
        f"/api/v1/stories/{story_id}/review",
        json={"decision": "approve", "note": "belle histoire"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200 and response.json["status"] == "published"
    rows = _rows(app, story_id)
    assert rows["audit"] == ["story.submitted", "story.approve"]
    assert [e for e in rows["events"] if e.startswith("story.")] == [
        "story.submitted",
        "story.review_started",
        "story.approved",
        "story.published",
    ]
    from webapp.extensions import db
    from webapp.models import AuditEntry

    with app.app_context():
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "story.approve"))
        assert entry.details == {
            "from": "submitted",
            "to": "published",
            "moves": ["start_review", "approve", "publish"],
        }
        assert entry.note == "belle histoire"
