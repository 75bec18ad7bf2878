"""Who may see what: role by role, including the ways people try to peek at unpublished work."""

from __future__ import annotations

import io

import pytest

from tests.conftest import in_action, make_jpeg, story_metadata, submit_story_now


def _submit_with_image(app, user_id: int) -> tuple[int, int]:
    from webapp.extensions import db
    from webapp.models import User
    from webapp.services import submissions

    with app.app_context():
        story = submit_story_now(
            story_metadata(body="Les épices du marché de Vitry"),
            [submissions.IncomingImage("a.jpg", io.BytesIO(make_jpeg()))],
            submitter=db.session.get(User, user_id),
        )
        return story.id, story.media[0].id


def _derive(app, media_id: int) -> None:
    from workers.context import use_app
    from workers.images import derive_media

    use_app(app)
    derive_media(media_id)


def _index(app, story_id: int) -> None:
    from workers.context import use_app
    from workers.search import index_story

    use_app(app)
    index_story(story_id)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "status", ["submitted", "returned", "in_review", "changes_requested", "approved", "withdrawn"]
)
def test_nobody_reads_an_unpublished_story_through_api_search_or_media(
    app, client, world, status, token_for
):
    from webapp.extensions import db
    from webapp.models import MediaAsset, Story
    from webapp.search import SearchRequest
    from webapp.services import backends

    story_id, media_id = _submit_with_image(app, world.student)
    _derive(app, media_id)
    with app.app_context():
        db.session.get(Story, story_id).status = status
        db.session.commit()
        names = list(db.session.get(MediaAsset, media_id).derivatives)
    _index(app, story_id)
    assert names
    outsiders = [None, world.other_student, world.other_teacher, world.member]
    if status != "submitted":
        outsiders.append(world.classmate)
    for outsider in outsiders:
        headers = _bearer(token_for(outsider)) if outsider else {}
        assert client.get(f"/api/v1/stories/{story_id}", headers=headers).status_code == 404
        for name in names:
            url = f"/media/{media_id}/{name}"
            assert client.get(url, headers=headers).status_code == 404, (outsider, url)
    assert client.get("/api/v1/search?q=épices").json["total"] == 0
    with app.app_context():
        assert backends.search_index().search(SearchRequest(q="épices")).total == 0


def test_the_author_teacher_and_archivist_can_follow_an_unpublished_story(
    app, client, world, token_for
):
    story_id, _ = _submit_with_image(app, world.student)
    for reader in (world.student, world.teacher, world.archivist, world.admin):
        response = client.get(f"/api/v1/stories/{story_id}", headers=_bearer(token_for(reader)))
        assert response.status_code == 200, reader


def test_a_student_cannot_see_another_classes_story(app, world, user, new_story):
    from webapp.extensions import db
    from webapp.models import Story
    from webapp.services import access

    story_id = new_story(world.other_student)
    with app.app_context():
        story = db.session.get(Story, story_id)
        assert not access.can_view(story, user(world.student))
        assert not access.can_view(story, user(world.teacher))
        assert access.can_view(story, user(world.other_teacher))


def test_a_teacher_does_not_see_a_students_draft(app, world, user, new_story):
    from webapp.extensions import db
    from webapp.models import Story
    from webapp.services import access

    story_id = new_story(world.student)
    with app.app_context():
        story = db.session.get(Story, story_id)
        story.status = "draft"
        db.session.commit()
        assert not access.can_view(story, user(world.teacher))
        assert access.can_view(story, user(world.student))


def test_a_published_story_is_public(app, client, world, publish, new_story):
    story_id = new_story(world.member)
    publish(story_id)
    assert client.get(f"/api/v1/stories/{story_id}").json["status"] == "published"


def test_public_story_pages_show_only_published_stories_and_forget_withdrawn_ones(
    app, client, world, new_story, publish, user
):
    from webapp.services import review

    hidden = new_story(world.student)
    shown = new_story(world.member)
    publish(shown)
    assert client.get(f"/stories/{hidden}").status_code == 404
    assert client.get(f"/stories/{hidden}-le-marche-de-vitry").status_code == 404
    assert client.get(f"/stories/{shown}", follow_redirects=True).status_code == 200
    with app.app_context():
        in_action(review.withdraw, shown, "family asked", user(world.archivist))
    # Once published, then withdrawn: Gone (harvesters and search engines drop it), not 404.
    assert client.get(f"/stories/{shown}", follow_redirects=True).status_code == 410
    assert client.get(f"/stories/{shown}-le-marche-de-vitry").status_code == 410
