"""Images cached by the Image API never outlive their story's publication.

Withdrawal and erasure emit events whose routed jobs delete the story's cache (run here as the
worker would: the jobs the relay routes for the committed event); the erasure also tries at once;
the leftover collector removes whatever a story that is not public, or a re-derivation, left.
"""

from __future__ import annotations

import importlib
from datetime import timedelta

from tests.conftest import in_action
from tests.iiif.conftest import archivist_of, photo

TILE = "0,0,512,512/512,/0/default.jpg"


def _cached_keys(app, story_id: int) -> list[str]:
    from webapp.media.keys import iiif_cache_prefix
    from webapp.services import backends

    with app.app_context():
        return [i.key for i in backends.object_store().list(iiif_cache_prefix(story_id))]


def _run_routed_jobs(app, event_type: str, story_id: int) -> list[str]:
    """Run the jobs the relay routes for the story's committed ``event_type`` events."""
    from webapp.extensions import db
    from webapp.models import OutboxEvent
    from workers.context import use_app
    from workers.relay import jobs_for

    with app.app_context():
        events = db.session.scalars(
            db.select(OutboxEvent).where(
                OutboxEvent.event_type == event_type, OutboxEvent.story_id == story_id
            )
        ).all()
        routes = [route for event in events for route in jobs_for(event)]
    use_app(app)
    for route in routes:
        module, name = route.func.rsplit(".", 1)
        getattr(importlib.import_module(module), name)(*route.args)
    return [route.func for route in routes]


def _cache_some(client, media_id: int) -> None:
    assert client.get(f"/iiif/3/{media_id}/{TILE}").headers["X-IIIF-Source"] == "original"
    assert client.get(f"/iiif/3/{media_id}/full/800,/0/gray.png").status_code == 200  # listed


def test_withdrawing_a_story_deletes_its_cached_images(app, client, make_story):
    from webapp.services import review

    story = make_story(photo(2400, 1600), photo(2000, 1800, seed=3))
    for media_id in story.media_ids:
        _cache_some(client, media_id)
    other = make_story(photo(2400, 1600, seed=5))
    _cache_some(client, other.media_ids[0])
    assert len(_cached_keys(app, story.story_id)) == (20 + 1) + (16 + 1)  # two levels, two PNGs

    with app.app_context():
        in_action(review.withdraw, story.story_id, "asked by the family", archivist_of(app))
    for media_id in story.media_ids:  # refused at once, before any job has run
        assert client.get(f"/iiif/3/{media_id}/{TILE}").status_code == 404
    jobs = _run_routed_jobs(app, "story.withdrawn", story.story_id)

    assert "workers.maintenance.purge_iiif_cache" in jobs
    assert _cached_keys(app, story.story_id) == []
    assert len(_cached_keys(app, other.story_id)) == 21  # another story's cache is kept


def test_erasing_a_story_deletes_its_cached_images_at_once_and_by_its_job(app, client, make_story):
    from webapp.services import backends, erasure

    story = make_story(photo(2400, 1600))
    _cache_some(client, story.media_ids[0])
    assert len(_cached_keys(app, story.story_id)) == 21

    with app.app_context():
        in_action(erasure.erase_story, story.story_id, archivist_of(app))
    assert _cached_keys(app, story.story_id) == []  # the erasure's first try, after its commit

    # An image cached by a request that raced the erasure is removed by the routed job.
    with app.app_context():
        from webapp.media.keys import iiif_cache_key

        key = iiif_cache_key(story.story_id, story.media_ids[0], "0" * 12, "full/max/0/default.jpg")
        backends.object_store().put(key, b"late", content_type="image/jpeg")
    jobs = _run_routed_jobs(app, "story.erased", story.story_id)
    assert "workers.maintenance.purge_iiif_cache" in jobs
    assert _cached_keys(app, story.story_id) == []
    assert client.get(f"/iiif/3/{story.media_ids[0]}/info.json").status_code == 404


def test_a_story_published_again_keeps_its_cache_when_a_late_purge_runs(app, client, make_story):
    from workers.context import use_app
    from workers.maintenance import purge_iiif_cache

    story = make_story(photo(2400, 1600))
    _cache_some(client, story.media_ids[0])
    use_app(app)
    assert purge_iiif_cache(story.story_id) == 0
    assert len(_cached_keys(app, story.story_id)) == 21


def test_collector_removes_cached_images_of_unpublished_stories_and_old_derivatives(
    app, client, make_story
):
    from webapp.extensions import db
    from webapp.media.keys import iiif_cache_key
    from webapp.models import MediaAsset, Story
    from webapp.operations.collector import collect_leftovers
    from webapp.services import backends

    kept = make_story(photo(2400, 1600))
    _cache_some(client, kept.media_ids[0])
    hidden = make_story(photo(2400, 1600, seed=2))
    _cache_some(client, hidden.media_ids[0])
    with app.app_context():
        store = backends.object_store()
        # A story that left publication without its purge job having run (a lost job).
        db.session.get(Story, hidden.story_id).status = "withdrawn"
        db.session.commit()
        # An image cut from derivatives that a re-derivation has since replaced.
        media = db.session.get(MediaAsset, kept.media_ids[0])
        stale = iiif_cache_key(kept.story_id, media.id, "0" * 12, "full/10,/0/default.jpg")
        store.put(stale, b"old", content_type="image/jpeg")

        report = collect_leftovers(grace=timedelta(0))

    assert stale in report.deleted
    assert _cached_keys(app, hidden.story_id) == []
    assert len(_cached_keys(app, kept.story_id)) == 21  # still public, still current
