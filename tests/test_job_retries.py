"""Transient failures are retried with backoff; the work completes once the service is back."""

from __future__ import annotations

import io

import pytest

from tests.conftest import (
    build_app,
    make_jpeg,
    run_worker_burst_process,
    story_metadata,
    submit_story_now,
)
from tests.service_processes import free_port


@pytest.mark.slow
def test_image_job_is_retried_after_the_object_store_comes_back(
    tmp_path, redis_server, moto_server
):
    from rq.registry import ScheduledJobRegistry

    from tests.conftest import create_user_now
    from webapp.extensions import db
    from webapp.models import MediaAsset
    from webapp.services import backends, submissions

    settings = dict(
        REDIS_URL=redis_server.url,
        S3_ACCESS_KEY=moto_server.access_key,
        S3_SECRET_KEY=moto_server.secret_key,
        S3_REGION=moto_server.region,
        S3_BUCKET="retry-test",
        PASSAGES_QUEUE_PREFIX=f"retry-{tmp_path.name[-20:]}",
    )
    app = build_app(tmp_path / "data", S3_ENDPOINT=moto_server.endpoint, **settings)
    with app.app_context():
        user, _ = create_user_now("c@example.org", "contributor", "long-password-1")
        image = submissions.IncomingImage("p.jpg", io.BytesIO(make_jpeg(seed=2)))
        story = submit_story_now(story_metadata(), [image], submitter=user)
        media_id = story.media[0].id

    # The worker cannot reach the object store (nothing listens on that port).
    unreachable = build_app(tmp_path / "data", S3_ENDPOINT=f"127.0.0.1:{free_port()}", **settings)
    run_worker_burst_process(unreachable)
    with app.app_context():
        assert db.session.get(MediaAsset, media_id).state == "pending"  # not failed
        images = backends.queue("images")
        registry = ScheduledJobRegistry(images.name, connection=backends.redis_connection())
        scheduled = registry.get_job_ids()
        assert len(scheduled) == 1
        assert images.fetch_job(scheduled[0]).retries_left == 4
        # What RQ's scheduler does when the backoff delay is over.
        for job_id in scheduled:
            registry.remove(job_id)
            images.enqueue_job(images.fetch_job(job_id))
        db.session.remove()

    run_worker_burst_process(app)
    with app.app_context():
        media = db.session.get(MediaAsset, media_id)
        assert media.state == "ready" and len(media.derivatives) >= 3
