"""The page cache across a busy morning: private changes (a class handing in its drafts, their
photos' derivatives, their index updates) keep the public pages, and public changes retire them
without spending the budget until nothing is kept any more (probe2 finding P3)."""

from __future__ import annotations

import pytest

from tests.conftest import _dispose, build_app, make_jpeg, story_metadata, submit_story_via_api
from tests.public import test_page_cache
from tests.public.test_page_cache import (
    _relay_and_index,
    _shows,
    _withdraw,
    cache_entries,
    keep,
    rendered_templates,
)

#: Two published stories in a featured collection (the same fixture as the cache's own tests).
archive = test_page_cache.archive


@pytest.fixture
def app(tmp_path, redis_server):
    app = build_app(tmp_path / "data", REDIS_URL=redis_server.url, PAGE_CACHE_SECONDS="300",
                    PAGE_CACHE_MAX_KEYS="40")  # fmt: skip
    yield app
    _dispose(app)


def _relay_derive_and_index(app) -> None:
    """What the relay, the image worker and the search worker do after a submission."""
    from webapp.extensions import db
    from webapp.models import MediaAsset, Story
    from workers import images, search
    from workers.context import use_app
    from workers.relay import relay_once

    use_app(app)
    with app.app_context():
        relay_once()
        story_ids = db.session.scalars(db.select(Story.id).where(~Story.is_public)).all()
        media_ids = db.session.scalars(
            db.select(MediaAsset.id).where(MediaAsset.story_id.in_(story_ids))
        ).all()
    assert len(media_ids) == 6
    for media_id in media_ids:
        assert images.derive_media(media_id) == "derived"
    for story_id in story_ids:
        search.index_story(story_id)
    with app.app_context():
        relay_once()


def test_a_class_handing_in_drafts_keeps_the_public_pages(
    app, client, archive, make_user, api_token
):
    pages = ["/", archive.pages["story"], archive.pages["collection"], archive.pages["search"]]
    for url in pages:
        keep(client, url)
    token = api_token(make_user("contributor"))
    for n in range(3):
        answer = submit_story_via_api(
            app.test_client(),
            token,
            story_metadata(title=f"Brouillon {n}"),
            [("a.jpg", make_jpeg(200, 150)), ("b.jpg", make_jpeg(150, 200))],
        )
        assert answer.status_code == 202
    _relay_derive_and_index(app)
    with rendered_templates(app) as rendered:
        for url in pages:
            assert client.get(url).status_code == 200
    assert rendered == [], "a submission nobody can see retired the kept pages"


def test_a_withdrawal_still_leaves_every_kept_page(app, client, archive):
    for url in archive.pages.values():
        keep(client, url)
    _withdraw(app, archive.gone)
    _relay_and_index(app, archive.gone)
    for name, url in archive.pages.items():
        assert not _shows(client.get(url), archive.gone), name


def test_the_relay_retires_the_pages_for_a_public_story_but_not_for_a_draft(app, make_story):
    from webapp.extensions import db
    from webapp.models import OutboxEvent, Story
    from workers.relay import changes_public_pages

    public = make_story("Le marché de Vitry")
    draft = make_story("Brouillon", status="draft")
    with app.app_context():

        def event(event_type, **payload):
            return OutboxEvent(event_type=event_type, payload=payload,
                               story_id=payload.get("story_id"))  # fmt: skip

        assert not changes_public_pages([event("story.submitted", story_id=draft)])
        assert not changes_public_pages([event("notification.created", notification_id=1)])
        assert changes_public_pages([event("story.metadata_edited", story_id=public)])
        assert changes_public_pages([event("story.erased", story_id=10_000)])
        assert changes_public_pages([event("collection.changed", collection_id=1, story_ids=[])])
        assert changes_public_pages([event("story.something_new", note="?")])  # no story: doubt
        assert changes_public_pages([event("badge.awarded", person=1)])  # unknown: retire
        story = db.session.get(Story, public)
        story.status = "in_review"  # consent withdrawn: out of public view, back in review
        db.session.commit()
        assert changes_public_pages([event("story.consent_withdrawn", story_id=public)])
        assert changes_public_pages([event("story.returned", story_id=public)])  # was public


def test_fifty_public_changes_in_one_window_still_leave_the_pages_kept(app, client, make_story):
    """PAGE_CACHE_MAX_KEYS=40 gives 15 entries a window for addresses without parameters: each
    retirement used to count the marker and the page again, so the 8th stopped the keeping."""
    from webapp import page_cache

    make_story("Le marché de Vitry")
    keep(client, "/")
    for round_ in range(50):
        with app.test_request_context():
            page_cache.invalidate()
        with rendered_templates(app) as rendered:
            client.get("/")  # rendered again after the retirement, and kept at once
            client.get("/")
        assert rendered == ["home.html"], f"not kept after {round_} retirements"
    assert cache_entries(app) <= 2  # the home page and its marker, whatever the retirements
