"""A student's story belongs to their class from its first commit, and the teacher hears of it."""

from __future__ import annotations

from tests.conftest import make_jpeg, story_metadata, submit_story_via_api


def test_student_story_sent_through_the_api_lands_in_the_class_and_tells_the_teacher(
    app, client, world, user, token_for
):
    from webapp.extensions import db
    from webapp.models import Story
    from webapp.services import notifications

    response = submit_story_via_api(
        client, token_for(world.student), story_metadata(), [("a.jpg", make_jpeg())]
    )
    assert response.status_code == 202
    with app.app_context():
        story = db.session.get(Story, response.json["id"])
        assert story.class_id == user(world.student).class_id is not None
        messages = [n.message for n in notifications.unread_for(user(world.teacher))]
        assert any("was handed in" in m and story.title in m for m in messages)
        assert not notifications.unread_for(user(world.student))  # not told of their own move
