"""An outage longer than the quick retries does not fail a photo for good; a bad image does.

The quick schedule (5 tries over about 13 minutes) is right for a blip. A storage outage of an
hour used to end with the photo ``failed`` for good; now a job that failed on an outage goes on
being tried on a long schedule (hourly, for days) and its photo stays ``pending``. Permanent
failures (undecodable image, memory or time limit) still fail at once: ``tests/test_image_jobs.py``.

The quick test gives the worker's failure handler real RQ jobs on the throw-away Redis; the
``slow`` one runs real worker processes against an unreachable and then a working object store.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import _dispose, build_app, make_jpeg, run_worker_burst_process
from tests.service_processes import free_port

OUTAGE = (
    "Traceback (most recent call last):\n"
    '  File "workers/search.py", line 1, in index_story\n'
    "storage.base.StorageUnavailable: the object store did not answer\n"
)
BAD_INPUT = (
    "Traceback (most recent call last):\n"
    '  File "workers/search.py", line 1, in index_story\n'
    "ValueError: not a story\n"
)


def _settings(tmp_path, redis_server, moto_server):
    return dict(
        REDIS_URL=redis_server.url,
        S3_ACCESS_KEY=moto_server.access_key,
        S3_SECRET_KEY=moto_server.secret_key,
        S3_REGION=moto_server.region,
        S3_BUCKET="long-retry",
        PASSAGES_QUEUE_PREFIX=f"long-{tmp_path.name[-20:]}",
    )


def _submit(app, data: bytes) -> int:
    from tests.conftest import PASSWORD, create_user_now, submit_story_via_api
    from webapp.extensions import db
    from webapp.models import ApiToken

    with app.app_context():
        user, _ = create_user_now("long@example.org", "contributor", PASSWORD)
        row, token = ApiToken.issue(user, "test")
        db.session.add(row)
        db.session.commit()
    response = submit_story_via_api(app.test_client(), token, images=[("p.jpg", data)])
    assert response.status_code == 202, response.get_json()
    return response.get_json()["media"][0]["id"]


def _exhaust_quick_retries(app) -> list[str]:
    """Make every scheduled retry due now, with no quick retry left (as after 13 minutes)."""
    from rq.registry import ScheduledJobRegistry

    from webapp.services import backends

    with app.app_context():
        images = backends.queue("images")
        registry = ScheduledJobRegistry(images.name, connection=backends.redis_connection())
        ids = registry.get_job_ids()
        for job_id in ids:
            job = images.fetch_job(job_id)
            job.retries_left = 0
            job.save()
            registry.remove(job_id)
            images.enqueue_job(job)
        return ids


def test_the_worker_gives_an_outage_hourly_tries_and_a_bad_input_none(redis_server):
    """What the worker decides when a job's quick retries are spent, on real RQ jobs."""
    import uuid

    from redis import Redis
    from rq import Queue
    from rq.job import JobStatus
    from rq.registry import ScheduledJobRegistry

    from workers.worker import PassagesWorker

    connection = Redis.from_url(redis_server.url)
    queue = Queue(f"long-{uuid.uuid4().hex[:8]}", connection=connection)
    worker = PassagesWorker([queue], connection=connection, transient_retry=(3600, 7))
    scheduled = ScheduledJobRegistry(queue.name, connection=connection)

    def failed_for_good_after(exc_string: str, *, age: timedelta = timedelta()) -> str:
        job = queue.enqueue("workers.search.index_story", 1)  # no give-up handler to call
        job.retries_left = 0  # the quick retries are spent
        job.created_at = datetime.now(UTC) - age
        job.ended_at = datetime.now(UTC)
        job.save()
        worker.handle_job_failure(job, queue, exc_string=exc_string)
        job.refresh()
        return job.id

    outage = failed_for_good_after(OUTAGE)
    assert scheduled.get_job_ids() == [outage]
    due = scheduled.get_scheduled_time(outage)
    assert 3000 < (due - datetime.now(UTC)).total_seconds() <= 3600 + 5  # an hour later
    assert queue.fetch_job(outage).meta["long_retries"] == 1

    bad_input = failed_for_good_after(BAD_INPUT)
    too_old = failed_for_good_after(OUTAGE, age=timedelta(days=8))
    assert scheduled.get_job_ids() == [outage]  # neither is tried again
    assert queue.fetch_job(bad_input).get_status() == JobStatus.FAILED
    assert queue.fetch_job(too_old).get_status() == JobStatus.FAILED


@pytest.mark.slow  # three real worker processes; the quick test above covers the decision
def test_a_job_failing_on_an_outage_keeps_being_retried_hourly(tmp_path, redis_server, moto_server):
    from rq.registry import ScheduledJobRegistry

    from webapp.extensions import db
    from webapp.models import MediaAsset
    from webapp.services import backends

    settings = _settings(tmp_path, redis_server, moto_server)
    app = build_app(tmp_path / "data", S3_ENDPOINT=moto_server.endpoint, **settings)
    down = build_app(tmp_path / "data", S3_ENDPOINT=f"127.0.0.1:{free_port()}", **settings)
    try:
        media_id = _submit(app, make_jpeg(seed=3))
        run_worker_burst_process(down)  # first failure: a quick retry is scheduled
        assert len(_exhaust_quick_retries(app)) == 1
        run_worker_burst_process(down)  # the last quick retry fails on the outage too
        with app.app_context():
            db.session.remove()
            media = db.session.get(MediaAsset, media_id)
            assert media.state == "pending" and media.failure_reason is None
            images = backends.queue("images")
            registry = ScheduledJobRegistry(images.name, connection=backends.redis_connection())
            [job_id] = registry.get_job_ids()
            job = images.fetch_job(job_id)
            assert job.meta["long_retries"] == 1
            due = registry.get_scheduled_time(job_id)
            assert 3000 < (due - job.ended_at).total_seconds() <= 3600 + 5  # an hour later
        _exhaust_quick_retries(app)  # the hour has passed and the store is back
        run_worker_burst_process(app)
        with app.app_context():
            db.session.remove()
            assert db.session.get(MediaAsset, media_id).state == "ready"
    finally:
        _dispose(down)
        _dispose(app)
