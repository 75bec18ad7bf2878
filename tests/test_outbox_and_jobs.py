"""Events are rows first: a Redis outage delays work but loses nothing; jobs are idempotent."""

from __future__ import annotations

import pytest

from tests.conftest import (
    build_app,
    in_action,
    make_jpeg,
    run_worker_burst_process,
    story_metadata,
    submit_story_now,
)


@pytest.fixture
def redis_app(tmp_path, redis_server):
    app = build_app(tmp_path / "data", REDIS_URL=redis_server.url)
    yield app
    from tests.conftest import _dispose

    _dispose(app)


def _submit(app, images=1):
    import io

    from tests.conftest import create_user_now
    from webapp.extensions import db
    from webapp.models import User
    from webapp.services import submissions

    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == "c@example.org"))
        if user is None:
            user, _ = create_user_now("c@example.org", "contributor", "long-password-1")
        files = [
            submissions.IncomingImage(f"{i}.jpg", io.BytesIO(make_jpeg(700, 500, seed=i)))
            for i in range(images)
        ]
        return submit_story_now(story_metadata(), files, submitter=user).id


@pytest.mark.slow
def test_events_wait_in_the_outbox_while_redis_is_down_then_flow(redis_app, redis_server):
    from workers import relay

    app = redis_app
    redis_server.kill()
    try:
        story_id = _submit(app)
        with app.app_context():
            assert relay.relay_once() == 0
            assert relay.pending_count() == 1
            from webapp.extensions import db
            from webapp.models import OutboxEvent

            event = db.session.scalar(db.select(OutboxEvent))
            assert event.last_error  # the reason is kept for the operator
    finally:
        redis_server.start()
    with app.app_context():
        from webapp.services import backends

        backends.reset_process_state()
    run_worker_burst_process(app)
    with app.app_context():
        from webapp.extensions import db
        from webapp.models import Story

        assert relay.pending_count() == 0
        story = db.session.get(Story, story_id)
        assert [m.state for m in story.media] == ["ready"]


def test_relaying_twice_does_not_duplicate_jobs(redis_app):
    from webapp.extensions import db
    from webapp.models import OutboxEvent
    from webapp.services import backends
    from workers import relay

    _submit(redis_app, images=2)
    with redis_app.app_context():
        assert relay.relay_once() == 1
        # Simulate a crash after enqueue but before the row was marked relayed.
        db.session.scalar(db.select(OutboxEvent)).relayed_at = None
        db.session.commit()
        assert relay.relay_once() == 1
        assert backends.queue("images").count == 2
        assert backends.queue("search").count == 1


def test_deriving_twice_gives_the_same_objects(redis_app):
    from webapp.extensions import db
    from webapp.models import MediaAsset
    from webapp.services import backends
    from workers.context import use_app
    from workers.images import derive_media

    _submit(redis_app)
    use_app(redis_app)
    with redis_app.app_context():
        media_id = db.session.scalar(db.select(MediaAsset.id))
    assert derive_media(media_id) == "derived"
    with redis_app.app_context():
        store = backends.object_store()
        first = {k.key: store.get(k.key) for k in store.list("derivatives/")}
    assert derive_media(media_id) == "already done"
    assert derive_media(media_id, force=True) == "derived"
    with redis_app.app_context():
        second = {k.key: store.get(k.key) for k in store.list("derivatives/")}
        media = db.session.get(MediaAsset, media_id)
        assert media.state == "ready"
    assert first == second and len(first) >= 3


def test_indexing_twice_or_after_deletion_converges(redis_app, publish):
    from webapp.search import SearchRequest
    from webapp.services import backends
    from workers.context import use_app
    from workers.search import index_story

    story_id = _submit(redis_app)
    publish(story_id)
    use_app(redis_app)
    assert index_story(story_id) == "indexed"
    assert index_story(story_id) == "indexed"
    with redis_app.app_context():
        page = backends.search_index().search(SearchRequest(q="épices"))
        assert [h.id for h in page.hits] == [story_id]


@pytest.mark.slow
def test_withdrawn_story_leaves_public_search(redis_app, publish, make_user):
    from webapp.extensions import db
    from webapp.models import User
    from webapp.search import SearchRequest
    from webapp.services import backends, review

    story_id = _submit(redis_app)
    publish(story_id)
    run_worker_burst_process(redis_app)
    with redis_app.app_context():
        assert backends.search_index().search(SearchRequest(q="épices")).total == 1
        archivist = db.session.get(User, make_user("archivist"))
        in_action(review.withdraw, story_id, "family asked", archivist)
    run_worker_burst_process(redis_app)
    with redis_app.app_context():
        backends.search_index().refresh()
        assert backends.search_index().search(SearchRequest(q="épices")).total == 0
    # Gone, not unknown: it was published once (OAI-PMH keeps it as a deleted record).
    assert redis_app.test_client().get(f"/stories/{story_id}").status_code == 410


@pytest.mark.slow
def test_index_built_by_an_older_schema_is_rebuilt_when_the_search_worker_starts(
    redis_app, publish
):
    from webapp.search import SearchRequest
    from webapp.services import backends

    story_id = _submit(redis_app)
    publish(story_id)
    run_worker_burst_process(redis_app)
    index_dir = redis_app.extensions["passages.settings"].index_dir
    for version_file in index_dir.glob("*/SCHEMA_VERSION"):
        version_file.write_text("0")  # as if an older release had built it
    with redis_app.app_context():
        assert backends.search_index().needs_rebuild()
    run_worker_burst_process(redis_app)
    with redis_app.app_context():
        index = backends.search_index()
        index.refresh()
        assert not index.needs_rebuild()
        assert [h.id for h in index.search(SearchRequest(q="épices")).hits] == [story_id]


@pytest.mark.slow
def test_place_spellings_meet_in_one_search_facet(redis_app, publish):
    import io

    from webapp.extensions import db
    from webapp.models import User
    from webapp.search import SearchRequest
    from webapp.services import backends, submissions

    ids = []
    with redis_app.app_context():
        from tests.conftest import create_user_now

        user, _ = create_user_now("p@example.org", "contributor", "long-password-1")
        for spelling in ("Vitry sur Seine", "vitry-sur-seine"):
            story = submit_story_now(
                story_metadata(places=[spelling]),
                [submissions.IncomingImage("a.jpg", io.BytesIO(make_jpeg(seed=3)))],
                submitter=db.session.get(User, user.id),
            )
            ids.append(story.id)
    for story_id in ids:
        publish(story_id)
    run_worker_burst_process(redis_app)
    with redis_app.app_context():
        index = backends.search_index()
        index.refresh()
        facet = index.search(SearchRequest(q="épices")).facets["place"]
        assert [(f.value, f.count) for f in facet] == [("Vitry-sur-Seine", 2)]


@pytest.mark.slow
def test_collection_changes_reach_the_collection_facet(redis_app, publish, make_user):
    from webapp.extensions import db
    from webapp.models import User
    from webapp.search import SearchRequest
    from webapp.services import backends, collections

    story_id = _submit(redis_app)
    publish(story_id)
    with redis_app.app_context():
        archivist = db.session.get(User, make_user("archivist"))
        fields = collections.CollectionFields("Marchés du Val-de-Marne", "marches", "", True, False)
        collection = in_action(collections.save_collection, fields, archivist)
        item = in_action(collections.add_story, collection.id, story_id, archivist)
        collection_id, item_id = collection.id, item.id
    run_worker_burst_process(redis_app)

    def facet():
        with redis_app.app_context():
            index = backends.search_index()
            index.refresh()
            values = index.search(SearchRequest(q="épices")).facets["collection"]
            return [(f.value, f.count) for f in values]

    assert facet() == [("Marchés du Val-de-Marne", 1)]
    with redis_app.app_context():
        archivist = db.session.scalar(db.select(User).where(User.role == "archivist"))
        in_action(collections.remove_item, collection_id, item_id, archivist)
    run_worker_burst_process(redis_app)
    assert facet() == []


def test_search_worker_merges_small_segments_once_there_are_too_many(redis_app, monkeypatch):
    from webapp.search.contract import StoryDocument
    from webapp.services import backends
    from workers import search as search_jobs
    from workers.context import use_app

    monkeypatch.setattr(search_jobs, "MAX_SEGMENTS", 3)
    story_id = _submit(redis_app)
    use_app(redis_app)
    with redis_app.app_context():
        index = backends.search_index()
        for n in range(5):  # five updates, five small segments
            index.upsert(StoryDocument(id=1000 + n, title=f"t{n}", body="x", language="fr"))
        assert index.segment_count() > 3
    assert search_jobs.index_story(story_id) == "indexed"
    with redis_app.app_context():
        index = backends.search_index()
        assert index.segment_count() <= 3
        assert index.count(public=False) == 6
