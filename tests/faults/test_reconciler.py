"""Work lost after the relay is found and handed in again, with no manual step.

The relay marks an event relayed once its jobs are in Redis; if Redis then loses them (a crash
between snapshots, a restored database), media stay ``pending`` and the index stays stale for
good. These tests lose the jobs on purpose (``FLUSHDB``) and check that the reconciler finds
exactly what is stuck — and nothing that still has a job — and that its events get the work done.

The quick tests stop at the outbox (what the reconciler finds and the events it writes, with the
index filled in-process as the search job would); the ``slow`` ones run real worker processes
to show those events get the work done.
"""

from __future__ import annotations

import pytest

from tests.conftest import (
    _dispose,
    build_app,
    make_jpeg,
    run_worker_burst_process,
    submit_story_via_api,
)


@pytest.fixture
def redis_app(tmp_path, redis_server):
    app = build_app(tmp_path / "data", REDIS_URL=redis_server.url)
    yield app
    _dispose(app)


def _token(app, make_user, api_token):
    return api_token(make_user("contributor"))


def _submit(app, token, images=2, seed=0):
    response = submit_story_via_api(
        app.test_client(),
        token,
        images=[(f"{i}.jpg", make_jpeg(600, 400, seed=seed + i)) for i in range(images)],
    )
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def _relay(app):
    from workers.relay import relay_once

    with app.app_context():
        while relay_once():
            pass


@pytest.fixture
def make_user_on(redis_app):
    from tests.conftest import PASSWORD

    def make(role="contributor"):
        from tests.conftest import create_user_now

        with redis_app.app_context():
            user, _ = create_user_now(f"{role}-r@example.org", role, PASSWORD)
            return user.id

    return make


@pytest.fixture
def token_on(redis_app, make_user_on):
    from webapp.extensions import db
    from webapp.models import ApiToken, User

    with redis_app.app_context():
        row, token = ApiToken.issue(db.session.get(User, make_user_on()), "test")
        db.session.add(row)
        db.session.commit()
    return token


def _media_states(app, story_id):
    from webapp.extensions import db
    from webapp.models import Story

    with app.app_context():
        db.session.remove()
        return [m.state for m in db.session.get(Story, story_id).media]


def _outbox_events(app, event_type: str) -> list[dict]:
    from webapp.extensions import db
    from webapp.models import OutboxEvent

    with app.app_context():
        rows = db.session.scalars(
            db.select(OutboxEvent)
            .where(OutboxEvent.event_type == event_type)
            .order_by(OutboxEvent.id)
        )
        return [row.payload for row in rows]


def _lose_the_jobs_of_a_new_story(app, token_on) -> int:
    """A story with two images whose jobs Redis loses after the relay; checks what is found."""
    from webapp.services import backends
    from workers import reconcile

    story_id = _submit(app, token_on)
    _relay(app)
    with app.app_context():
        # Control: with every job alive in RQ, nothing is called stuck (even with no grace).
        assert reconcile.find_stuck(0).media_count == 0
        assert reconcile.find_stuck(0).stale_stories == {}
        backends.redis_connection().flushdb()  # Redis loses its jobs
        findings = reconcile.find_stuck(0)
        assert sorted(findings.stuck_media) == [story_id]
        assert len(findings.stuck_media[story_id]) == 2
        assert story_id in findings.stale_stories  # never indexed
        # Within the grace period nothing is touched: a running relay may be on it.
        assert reconcile.find_stuck(3600).media_count == 0
    return story_id


def test_lost_jobs_are_found_and_their_work_asked_for_again(redis_app, token_on):
    from workers import reconcile

    app = redis_app
    story_id = _lose_the_jobs_of_a_new_story(app, token_on)
    with app.app_context():
        assert reconcile.reconcile(0).emitted == 2
        assert reconcile.reconcile(0).emitted == 0  # the events wait in the outbox
    [derive] = _outbox_events(app, "media.derive_requested")
    assert derive["story_id"] == story_id and len(derive["media_ids"]) == 2
    assert [e["story_id"] for e in _outbox_events(app, "story.reindex_requested")] == [story_id]


def test_a_waiting_event_that_asks_for_no_index_update_does_not_hide_a_lost_one(
    redis_app, token_on
):
    """A crash right after a thumbnail was made leaves its ``media.derived`` event unrelayed.

    That event names the story but makes no job (nothing is routed for it): it must not count
    as the story's index update being on its way, or a story whose index job Redis lost stays
    out of search for good (seen once in the crash-recovery test under CI load).
    """
    from webapp.services import backends, outbox
    from webapp.unit_of_work import unit_of_work
    from workers import reconcile

    app = redis_app
    story_id = _lose_the_jobs_of_a_new_story(app, token_on)
    with app.app_context():
        with unit_of_work():
            outbox.emit("media.derived", {"media_id": 1, "story_id": story_id})
        findings = reconcile.find_stuck(0)
        assert story_id in findings.stale_stories
        # An event that will make the index job is, on the other hand, work on its way.
        with unit_of_work():
            outbox.emit("story.reindex_requested", {"story_id": story_id, "reason": "test"})
        assert story_id not in reconcile.find_stuck(0).stale_stories
        backends.redis_connection().flushdb()


def test_an_index_entry_out_of_step_is_found_either_way(redis_app, token_on):
    from webapp.extensions import db
    from webapp.models import Story
    from webapp.services import backends
    from webapp.services.indexing import document_for
    from workers import reconcile
    from workers.relay import relay_once

    app = redis_app
    story_id = _submit(app, token_on, images=0)
    _relay(app)
    with app.app_context():
        backends.redis_connection().flushdb()  # the index job ran and is gone
        index = backends.search_index()
        index.upsert(document_for(db.session.get(Story, story_id)))  # as the job would
        assert reconcile.find_stuck(0).stale_stories == {}  # control: index and database agree
        # Published, but the index job that would follow was lost.
        db.session.get(Story, story_id).status = "published"
        db.session.commit()
        assert reconcile.find_stuck(0).stale_stories == {
            story_id: "indexed as submitted, is published"
        }
        assert reconcile.reconcile(0).emitted == 1
        while relay_once():  # the reindex job is handed to Redis and runs (in-process here)
            pass
        backends.redis_connection().flushdb()
        index.upsert(document_for(db.session.get(Story, story_id)))
        assert reconcile.find_stuck(0).stale_stories == {}
        # Gone from the database but still in the index.
        story = db.session.get(Story, story_id)
        db.session.delete(story)
        db.session.commit()
        assert reconcile.find_stuck(0).stale_stories == {
            story_id: "still in the index (published) but no longer in the database"
        }
    requested = _outbox_events(app, "story.reindex_requested")
    assert [e["story_id"] for e in requested] == [story_id]


@pytest.mark.slow  # real worker processes; the quick test above covers finding and emitting
def test_jobs_lost_from_redis_are_found_and_redone(redis_app, token_on):
    from webapp.services import backends
    from workers import reconcile

    app = redis_app
    story_id = _lose_the_jobs_of_a_new_story(app, token_on)
    with app.app_context():
        reconciled = reconcile.reconcile(0)
        assert reconciled.emitted == 2  # one derive request, one reindex request
        # The events wait in the outbox, so a second pass does not emit them again.
        assert reconcile.reconcile(0).emitted == 0

    run_worker_burst_process(app)
    assert _media_states(app, story_id) == ["ready", "ready"]
    with app.app_context():
        assert backends.search_index().indexed_statuses() == {story_id: "submitted"}
        assert reconcile.reconcile(0).emitted == 0


@pytest.mark.slow  # real worker processes; the quick test above covers finding and emitting
def test_an_index_entry_out_of_step_with_the_database_is_redone(redis_app, token_on):
    from webapp.extensions import db
    from webapp.models import Story
    from webapp.services import backends
    from workers import reconcile

    app = redis_app
    story_id = _submit(app, token_on, images=0)
    run_worker_burst_process(app)
    with app.app_context():
        assert backends.search_index().indexed_statuses() == {story_id: "submitted"}
        # The story was published, but its index job was lost (Redis flushed after the relay).
        db.session.get(Story, story_id).status = "published"
        db.session.commit()
        findings = reconcile.find_stuck(0)
        assert findings.stale_stories == {story_id: "indexed as submitted, is published"}
        reconcile.reconcile(0)
    run_worker_burst_process(app)
    with app.app_context():
        assert backends.search_index().indexed_statuses() == {story_id: "published"}
        # A story removed from the database but still in the index is dropped from it.
        story = db.session.get(Story, story_id)
        for media in story.media:
            db.session.delete(media)
        db.session.delete(story)
        db.session.commit()
        assert reconcile.find_stuck(0).stale_stories == {
            story_id: "still in the index (published) but no longer in the database"
        }
        reconcile.reconcile(0)
    run_worker_burst_process(app)
    with app.app_context():
        assert backends.search_index().indexed_statuses() == {}


def test_nothing_is_re_emitted_when_redis_cannot_be_read(tmp_path, redis_app, token_on):
    from tests.service_processes import free_port
    from webapp.extensions import db
    from webapp.models import OutboxEvent
    from workers import reconcile

    story_id = _submit(redis_app, token_on)
    _relay(redis_app)
    blind = build_app(tmp_path / "data", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    try:
        with blind.app_context():
            before = db.session.scalar(db.select(db.func.count()).select_from(OutboxEvent))
            with pytest.raises(reconcile.RegistriesUnavailable):
                reconcile.reconcile(0)
            after = db.session.scalar(db.select(db.func.count()).select_from(OutboxEvent))
            assert after == before
    finally:
        _dispose(blind)
    assert _media_states(redis_app, story_id) == ["pending", "pending"]
