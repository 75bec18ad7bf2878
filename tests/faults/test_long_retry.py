"""An outage longer than the quick retries does not fail a photo for good; a bad image does.

The quick schedule (5 tries over about 13 minutes) is right for a blip. A storage outage of an
hour used to end with the photo ``failed`` for good; now a job that failed on an outage goes on
being tried on a long schedule (hourly, for days) and its photo stays ``pending``. Permanent
failures (undecodable image, memory or time limit) still fail at once: ``tests/test_image_jobs.py``.
"""

from __future__ import annotations

from tests.conftest import _dispose, build_app, make_jpeg, run_worker_burst_process
from tests.service_processes import free_port


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
