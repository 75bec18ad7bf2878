"""The review state machine: every move, who may make it, and what it leaves behind."""

from __future__ import annotations

import pytest

from tests.conftest import in_action
from webapp.errors import Forbidden, TransitionNotAllowed


def _story(story_id):
    from webapp.extensions import db
    from webapp.models import Story

    db.session.expire_all()
    return db.session.get(Story, story_id)


def _events(story_id):
    from webapp.extensions import db
    from webapp.models import OutboxEvent

    rows = db.session.scalars(
        db.select(OutboxEvent).where(OutboxEvent.story_id == story_id).order_by(OutboxEvent.id)
    ).all()
    # The story's own events (e-mail about it travels as notification.created beside them).
    return [r.event_type for r in rows if r.event_type.startswith("story.")]


def _history(story_id):
    from webapp.extensions import db
    from webapp.models import AuditEntry

    rows = db.session.scalars(
        db.select(AuditEntry)
        .where(AuditEntry.subject_type == "story", AuditEntry.subject_id == story_id)
        .order_by(AuditEntry.id)
    ).all()
    return [(r.action, r.actor_id, r.note) for r in rows]


def test_class_session_path_from_submission_to_publication_records_every_move(
    app, world, user, new_story
):
    from webapp.services import consent, review

    story_id = new_story(world.student)
    with app.app_context():
        in_action(review.apply, story_id, "return", user(world.teacher), "Add the year, please")
        assert _story(story_id).status == "returned"
        in_action(review.apply, story_id, "resubmit", user(world.student))
        in_action(review.apply, story_id, "forward", user(world.teacher))
        assert _story(story_id).status == "in_review"
        in_action(review.apply, story_id, "request_changes", user(world.archivist), "Which market?")
        in_action(review.apply, story_id, "resubmit", user(world.student))
        in_action(review.apply, story_id, "approve", user(world.archivist))
        in_action(
            consent.record_guardian_consent, story_id, "mother, signed form", user(world.teacher)
        )
        in_action(review.apply, story_id, "publish", user(world.archivist))
        story = _story(story_id)
        assert story.status == "published" and story.published_at is not None
        assert _events(story_id) == [
            "story.submitted",
            "story.returned",
            "story.resubmitted",
            "story.forwarded",
            "story.changes_requested",
            "story.resubmitted",
            "story.approved",
            "story.published",
        ]
        history = _history(story_id)
        assert ("story.return", world.teacher, "Add the year, please") in history
        assert ("story.publish", world.archivist, None) in history
        assert ("story.guardian_consent", world.teacher, None) in history


@pytest.mark.parametrize(
    ("status", "action"),
    [
        ("submitted", "publish"),
        ("submitted", "resubmit"),
        ("returned", "approve"),
        ("in_review", "forward"),
        ("approved", "approve"),
        ("published", "approve"),
        ("rejected", "publish"),
        ("withdrawn", "withdraw"),
        ("withdrawn", "publish"),
        ("draft", "approve"),
    ],
)
def test_invalid_transition_is_refused_and_changes_nothing(
    app, world, user, new_story, status, action
):
    from webapp.extensions import db
    from webapp.services import review

    story_id = new_story(world.member)
    with app.app_context():
        _story(story_id).status = status
        db.session.commit()
        before = len(_events(story_id))
        with pytest.raises(TransitionNotAllowed) as error:
            in_action(review.apply, story_id, action, user(world.admin))
        assert error.value.status == 409
        assert _story(story_id).status == status
        assert len(_events(story_id)) == before


def test_invalid_transition_through_the_api_is_a_409_with_a_plain_message(
    app, client, world, new_story, api_token, publish
):
    story_id = new_story(world.member)
    publish(story_id)
    token = api_token(world.archivist)
    response = client.post(
        f"/api/v1/stories/{story_id}/review",
        json={"decision": "approve"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 409
    assert response.json["error"]["code"] == "transition_not_allowed"
    assert "published" in response.json["error"]["message"]


def test_api_approve_still_publishes_a_submitted_story_when_nothing_blocks(
    app, client, world, new_story, api_token
):
    story_id = new_story(world.member)
    response = client.post(
        f"/api/v1/stories/{story_id}/review",
        json={"decision": "approve", "note": "fine"},
        headers={"Authorization": f"Bearer {api_token(world.archivist)}"},
    )
    assert response.status_code == 200, response.json
    assert response.json["status"] == "published"
    with app.app_context():
        assert _events(story_id)[-3:] == [
            "story.review_started",
            "story.approved",
            "story.published",
        ]


def test_teacher_cannot_publish_approve_or_reject(app, world, user, new_story):
    from webapp.services import review

    story_id = new_story(world.student)
    with app.app_context():
        in_action(review.apply, story_id, "forward", user(world.teacher))
        for action in ("approve", "reject", "request_changes", "withdraw"):
            with pytest.raises(Forbidden):
                in_action(review.apply, story_id, action, user(world.teacher))
        assert _story(story_id).status == "in_review"


def test_teacher_cannot_publish_through_the_api(app, client, world, new_story, api_token):
    story_id = new_story(world.student)
    response = client.post(
        f"/api/v1/stories/{story_id}/review",
        json={"decision": "approve"},
        headers={"Authorization": f"Bearer {api_token(world.teacher)}"},
    )
    assert response.status_code == 403
    with app.app_context():
        assert _story(story_id).status == "submitted"


def test_another_classes_teacher_cannot_moderate_and_does_not_see_the_story(
    app, world, user, new_story
):
    from webapp.errors import NotFound
    from webapp.services import review

    story_id = new_story(world.student)
    with app.app_context():
        with pytest.raises(NotFound):
            in_action(review.apply, story_id, "forward", user(world.other_teacher))
        assert _story(story_id).status == "submitted"


def test_student_cannot_forward_own_story(app, world, user, new_story):
    from webapp.services import review

    story_id = new_story(world.student)
    with app.app_context(), pytest.raises(Forbidden):
        in_action(review.apply, story_id, "forward", user(world.student))


def test_guardian_consent_blocks_publication_of_a_minors_story(
    app, client, world, user, new_story, api_token
):
    from webapp.services import consent, review

    story_id = new_story(world.student)
    response = client.post(
        f"/api/v1/stories/{story_id}/review",
        json={"decision": "approve"},
        headers={"Authorization": f"Bearer {api_token(world.archivist)}"},
    )
    assert response.status_code == 200
    assert response.json["status"] == "approved"  # approved, but not published
    with app.app_context():
        with pytest.raises(TransitionNotAllowed, match="parent or guardian"):
            in_action(review.apply, story_id, "publish", user(world.archivist))
        in_action(
            consent.record_guardian_consent, story_id, "father, signed form", user(world.teacher)
        )
        story = _story(story_id)
        assert story.guardian_consent == "received" and story.guardian_consent_by
        in_action(review.apply, story_id, "publish", user(world.archivist))
        assert _story(story_id).status == "published"


def test_self_declared_minor_needs_guardian_consent_even_without_a_class(
    app, world, user, new_story
):
    from webapp.services import consent, review

    story_id = new_story(
        world.member, consent={"contributor": True, "minor": True, "guardian": True}
    )
    with app.app_context():
        in_action(review.review, story_id, "approve", None, user(world.archivist))
        assert _story(story_id).status == "approved"
        assert consent.guardian_state(_story(story_id)) == "pending"


def test_identifiable_persons_flag_blocks_publication_until_an_archivist_clears_it(
    app, world, user, new_story
):
    from webapp.services import consent, review

    story_id = new_story(world.member)
    with app.app_context():
        in_action(consent.set_persons_identifiable, story_id, True, user(world.archivist))
        in_action(review.review, story_id, "approve", None, user(world.archivist))
        assert _story(story_id).status == "approved"
        with pytest.raises(Forbidden):
            in_action(consent.set_persons_identifiable, story_id, False, user(world.teacher))
        in_action(consent.set_persons_identifiable, story_id, False, user(world.archivist))
        in_action(review.apply, story_id, "publish", user(world.archivist))
        assert _story(story_id).status == "published"


def test_notifications_reach_the_student_and_teacher_in_the_app(app, world, user, new_story):
    from webapp.services import notifications, review

    story_id = new_story(world.student)
    with app.app_context():
        in_action(review.apply, story_id, "return", user(world.teacher), "Add a title")
        messages = [n.message for n in notifications.unread_for(user(world.student))]
        assert any("returned" in m and "Add a title" in m for m in messages)
        in_action(review.apply, story_id, "resubmit", user(world.student))
        in_action(review.apply, story_id, "forward", user(world.teacher))
        in_action(review.apply, story_id, "reject", user(world.archivist), "Off topic")
        assert any(
            "not accepted" in n.message for n in notifications.unread_for(user(world.teacher))
        )


def test_withdraw_via_api_needs_an_archivist(app, client, world, new_story, api_token, publish):
    story_id = new_story(world.member)
    publish(story_id)
    denied = client.post(
        f"/api/v1/stories/{story_id}/withdraw",
        json={"note": "asked by family"},
        headers={"Authorization": f"Bearer {api_token(world.teacher)}"},
    )
    assert denied.status_code == 403
    done = client.post(
        f"/api/v1/stories/{story_id}/withdraw",
        json={"note": "asked by family"},
        headers={"Authorization": f"Bearer {api_token(world.archivist)}"},
    )
    assert done.status_code == 200 and done.json["status"] == "withdrawn"
    assert client.get(f"/api/v1/stories/{story_id}").status_code == 404


def test_a_note_that_is_not_text_is_refused_and_changes_nothing(
    app, client, world, new_story, api_token, publish
):
    story_id = new_story(world.member)
    publish(story_id)
    headers = {"Authorization": f"Bearer {api_token(world.archivist)}"}
    refused = client.post(
        f"/api/v1/stories/{story_id}/withdraw", json={"note": "famille \ud800"}, headers=headers
    )
    assert refused.status_code == 400
    assert refused.json["error"]["field"] == "note"
    assert client.get(f"/api/v1/stories/{story_id}").json["status"] == "published"
    done = client.post(  # positive control: the same call with text
        f"/api/v1/stories/{story_id}/withdraw", json={"note": "famille"}, headers=headers
    )
    assert done.status_code == 200
