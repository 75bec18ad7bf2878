"""What only grows is pruned after its keeping age, and nothing still needed goes with it.

``workers.maintenance.prune`` (the hourly job) on real rows, a real Redis with jobs a real
worker ran, and real files. Ages are given by moving the rows' and files' clocks back, as the
passing of weeks would.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta

from rq.job import Job
from rq.registry import FailedJobRegistry, FinishedJobRegistry
from rq.results import Result

from tests.conftest import PASSWORD, _dispose, build_app, create_user_now
from tests.jobs.conftest import fail_an_image_job, work_images
from tests.ops.conftest import add_story


def _relay_all(app) -> None:
    from workers.relay import relay_once

    with app.app_context():
        while relay_once():
            pass


def _age_events(ids: list[int], days: int) -> None:
    from webapp.extensions import db
    from webapp.models import OutboxEvent, utcnow

    moment = utcnow() - timedelta(days=days)
    db.session.execute(
        db.update(OutboxEvent)
        .where(OutboxEvent.id.in_(ids))
        .values(created_at=moment, relayed_at=db.case((OutboxEvent.relayed_at.is_(None), None),
                                                      else_=moment))
    )  # fmt: skip
    db.session.commit()


def test_prune_keeps_waiting_and_audit_events_and_unread_notifications(redis_app, token_on):
    from webapp.extensions import db
    from webapp.models import Notification, OutboxEvent, User, utcnow
    from webapp.services import notifications, outbox
    from webapp.unit_of_work import unit_of_work
    from workers.maintenance import prune

    old_story = add_story(redis_app, token_on, 1)
    recent_story = add_story(redis_app, token_on, 2)
    with redis_app.app_context(), unit_of_work():
        outbox.emit("story.erased", {"story_id": old_story, "actor_id": None})
    _relay_all(redis_app)
    with redis_app.app_context():
        with unit_of_work():  # committed after the relay ran: still waiting
            waiting = outbox.emit(
                "story.reindex_requested", {"story_id": recent_story, "reason": "test"}
            )
        events = {
            e.id: (e.event_type, e.story_id) for e in db.session.scalars(db.select(OutboxEvent))
        }
        old = [i for i, (_, story) in events.items() if story == old_story] + [waiting.id]
        _age_events(old, days=31)  # default keeping age: 30 days

        reader, _ = create_user_now("reader@example.org", "archivist", PASSWORD)
        idle, _ = create_user_now("idle@example.org", "archivist", PASSWORD)
        with unit_of_work():
            for person in (reader, idle):
                notifications.notify(person, "publish", "old news")
        with unit_of_work() as uow:
            notifications.mark_read(uow, db.session.get(User, reader.id))
        with unit_of_work():
            notifications.notify(reader, "publish", "recent news")
        with unit_of_work() as uow:
            notifications.mark_read(uow, db.session.get(User, reader.id))
        long_ago = Notification.read_at.is_not(None) & (Notification.message == "old news")
        db.session.execute(
            db.update(Notification)
            .where(long_ago)
            .values(
                read_at=utcnow() - timedelta(days=181),
                created_at=utcnow() - timedelta(days=200),
            )
        )
        db.session.execute(  # unread for as long: kept all the same
            db.update(Notification)
            .where(Notification.read_at.is_(None))
            .values(created_at=utcnow() - timedelta(days=400))
        )
        db.session.commit()

        counts = prune()
        again = prune()

        left = {e.id: e.event_type for e in db.session.scalars(db.select(OutboxEvent))}
        kept_old = {i for i in old if i in left}
        assert {left[i] for i in kept_old} == {"story.erased", "story.reindex_requested"}
        assert waiting.id in left  # never relayed: never pruned, whatever its age
        recent = [
            i for i, (_, story) in events.items() if story == recent_story and i != waiting.id
        ]
        assert recent and all(i in left for i in recent)
        pruned_old = [i for i in old if i not in left]
        assert pruned_old and counts["outbox_events"] == len(pruned_old)
        messages = sorted(
            (n.user_id, n.message, n.read_at is not None)
            for n in db.session.scalars(db.select(Notification))
        )
        assert messages == [(reader.id, "recent news", True), (idle.id, "old news", False)]
        assert counts["notifications"] == 1
        assert again["outbox_events"] == again["notifications"] == 0


def test_prune_removes_failed_jobs_and_export_files_past_their_age(redis_app, token_on):
    from webapp.services import backends
    from workers.maintenance import prune

    old = fail_an_image_job(redis_app, token_on, seed=3)
    with redis_app.app_context():
        connection = backends.redis_connection()
        job = Job.fetch(old.job_id, connection=connection)
        job.ended_at = job.ended_at - timedelta(days=31)  # default keeping age: 30 days
        job.save()
    recent = fail_an_image_job(redis_app, token_on, seed=4)
    exports = redis_app.extensions["passages.settings"].data_dir / "exports"
    exports.mkdir()
    (exports / "old.csv").write_text("story,title\n")
    (exports / "recent.csv").write_text("story,title\n")
    fifteen_days_ago = time.time() - 15 * 86400  # default keeping age: 14 days
    os.utime(exports / "old.csv", (fifteen_days_ago, fifteen_days_ago))

    with redis_app.app_context():
        counts = prune()
        registry = FailedJobRegistry(queue=backends.queue("images"))
        assert registry.get_job_ids() == [recent.job_id]
        assert not Job.exists(old.job_id, connection=connection)  # record and error gone
        assert Job.exists(recent.job_id, connection=connection)
    assert sorted(p.name for p in exports.iterdir()) == ["recent.csv"]
    assert (counts["failed_jobs"], counts["exports"]) == (1, 1)


def test_finished_jobs_and_their_results_expire_by_themselves(tmp_path, redis_server) -> None:
    """RQ deletes a finished job's record and result after PASSAGES_KEEP_JOB_RESULTS_HOURS."""
    from webapp.services import backends

    app = build_app(
        tmp_path / "data", REDIS_URL=redis_server.url, PASSAGES_KEEP_JOB_RESULTS_HOURS="2"
    )
    try:
        with app.app_context():
            user, _ = create_user_now("c@example.org", "contributor", PASSWORD)
            from tests.conftest import issue_token_now

            token = issue_token_now("c@example.org")
        add_story(app, token, 9)
        _relay_all(app)
        work_images(app)
        with app.app_context():
            connection = backends.redis_connection()
            finished = FinishedJobRegistry(queue=backends.queue("images")).get_job_ids()
            assert len(finished) == 1
            job = Job.fetch(finished[0], connection=connection)
            assert job.return_value() == "derived"
            results_key = Result.get_key(job.id)  # noqa: SLF001 - where RQ 3 keeps results
            for key in (job.key, results_key):
                assert 0 < connection.ttl(key) <= 2 * 3600, key
    finally:
        _dispose(app)


def test_prune_drops_claims_on_objects_once_no_transaction_can_hold_them(redis_app, token_on):
    from webapp.extensions import db
    from webapp.models import MediaAsset, ObjectClaim, utcnow
    from workers.maintenance import prune

    old_story = add_story(redis_app, token_on, 1)
    recent_story = add_story(redis_app, token_on, 2)
    with redis_app.app_context():

        def claimed(story_id: int) -> set[str]:
            keys = db.select(MediaAsset.original_key).where(MediaAsset.story_id == story_id)
            return set(
                db.session.scalars(db.select(ObjectClaim.key).where(ObjectClaim.key.in_(keys)))
            )

        old, recent = claimed(old_story), claimed(recent_story)
        assert old and recent  # each submission claimed its originals
        db.session.execute(
            db.update(ObjectClaim)
            .where(ObjectClaim.key.in_(old))
            .values(claimed_at=utcnow() - timedelta(days=2))
        )
        db.session.commit()

        counts = prune()

        assert claimed(old_story) == set()
        assert claimed(recent_story) == recent
        assert counts["object_claims"] == len(old)
