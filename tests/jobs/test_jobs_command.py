"""``passages jobs``: what an IT person on call sees and can do about background jobs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rq.registry import FailedJobRegistry

from tests.jobs.conftest import fail_an_image_job


def _jobs(app, *args: str, input: str | None = None):
    from webapp.operations.jobs_cli import jobs_group

    return app.test_cli_runner().invoke(jobs_group, list(args), input=input)


def test_a_failed_job_is_listed_and_shown_with_its_error(redis_app, token_on) -> None:
    failed = fail_an_image_job(redis_app, token_on)

    listed = _jobs(redis_app, "list")
    shown = _jobs(redis_app, "show", failed.job_id)

    assert listed.exit_code == 0, listed.output
    assert f"{failed.job_id}  images/failed" in listed.output
    assert f"workers.images.derive_media({failed.media_id})" in listed.output
    assert "ObjectNotFound: no object" in listed.output  # the last line of the error, under the job
    images_row = next(line for line in listed.output.splitlines() if line.startswith("images"))
    assert images_row.split() == ["images", "0", "0", "0", "0", "1"]
    # No relay ran in this test: the story's event and the failure's wait in the outbox.
    assert "outbox: 2 event(s) waiting for the relay" in listed.output
    assert shown.exit_code == 0, shown.output
    assert "status:       failed" in shown.output
    assert "function:     workers.images.derive_media" in shown.output
    assert "ended:        20" in shown.output
    assert "last error (end of traceback):" in shown.output
    assert "storage/local.py" in shown.output and "ObjectNotFound" in shown.output
    # Filters: the search queue has nothing failed.
    assert failed.job_id not in _jobs(redis_app, "list", "--queue", "search").output
    assert "no job in scheduled" in _jobs(redis_app, "list", "--registry", "scheduled").output


def test_unknown_ids_and_wrong_requests_exit_non_zero_with_a_specific_message(redis_app) -> None:
    shown = _jobs(redis_app, "show", "no-such-job")
    retried = _jobs(redis_app, "retry", "no-such-job")
    malformed = _jobs(redis_app, "show", "not a job/id")
    neither = _jobs(redis_app, "retry")
    bad_queue = _jobs(redis_app, "list", "--queue", "videos")

    assert shown.exit_code == 1 and "no job with id 'no-such-job'" in shown.output
    assert retried.exit_code == 1 and "no job with id 'no-such-job'" in retried.output
    assert malformed.exit_code == 1 and "no job with id 'not a job/id'" in malformed.output
    assert neither.exit_code == 2 and "either a JOB_ID or --all-failed" in neither.output
    assert bad_queue.exit_code == 2 and "videos" in bad_queue.output


def test_retry_puts_the_failed_job_back_on_its_queue(redis_app, token_on) -> None:
    from webapp.services import backends

    failed = fail_an_image_job(redis_app, token_on)

    retried = _jobs(redis_app, "retry", failed.job_id)
    again = _jobs(redis_app, "retry", failed.job_id)

    assert retried.exit_code == 0, retried.output
    assert f"job {failed.job_id} (workers.images.derive_media) put back on the images queue" in (
        retried.output
    )
    with redis_app.app_context():
        queue = backends.queue("images")
        assert queue.get_job_ids() == [failed.job_id]
        assert FailedJobRegistry(queue=queue).get_job_ids() == []
    assert again.exit_code == 1 and "is queued, not failed" in again.output


@pytest.mark.slow  # four real job runs
def test_retry_all_failed_and_purge(redis_app, token_on) -> None:
    from webapp.operations import jobs
    from webapp.services import backends

    first = fail_an_image_job(redis_app, token_on, seed=3)
    fail_an_image_job(redis_app, token_on, seed=4)

    assert "2 failed job(s) put back on queue" in _jobs(redis_app, "retry", "--all-failed").output
    from tests.jobs.conftest import work_images

    work_images(redis_app)  # they fail again: the originals are still missing
    refused = _jobs(redis_app, "purge", input="n\n")
    recent_kept = _jobs(redis_app, "purge", "--older-than", "1", "--yes")
    with redis_app.app_context():
        assert len(FailedJobRegistry(queue=backends.queue("images"))) == 2
        # A day later they are past the age and go, record and error with them.
        later = jobs.utcnow() + timedelta(days=2)
        assert jobs.purge_failed(timedelta(days=1), now=later) == 1 + 1
        assert backends.redis_connection().exists(f"rq:job:{first.job_id}") == 0
    purged = _jobs(redis_app, "purge", "--yes")

    assert refused.exit_code == 1 and "Aborted" in refused.output
    assert recent_kept.exit_code == 0 and "purged 0 failed job(s)" in recent_kept.output
    assert purged.exit_code == 0 and "purged 0 failed job(s)" in purged.output


def test_redis_unreachable_is_said_not_shown_as_no_jobs(tmp_path) -> None:
    from tests.conftest import _dispose, build_app
    from tests.service_processes import free_port

    app = build_app(tmp_path / "data", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    try:
        listed = _jobs(app, "list")
    finally:
        _dispose(app)

    assert listed.exit_code == 1
    assert "Redis cannot be reached" in listed.output


def test_a_job_waiting_for_its_retry_is_listed_as_scheduled_with_its_last_error(
    redis_app, token_on
) -> None:
    from rq import Retry

    from tests.jobs.conftest import work_images
    from tests.ops.conftest import add_story
    from webapp.extensions import db
    from webapp.models import MediaAsset
    from webapp.services import backends

    story_id = add_story(redis_app, token_on, 6)
    with redis_app.app_context():
        media = db.session.scalars(
            db.select(MediaAsset).where(MediaAsset.story_id == story_id)
        ).one()
        backends.object_store().delete(media.original_key)
        job_id = f"{backends.settings().queue_prefix}-retrying"
        backends.queue("images").enqueue_call(
            "workers.images.derive_media",
            args=(media.id,),
            job_id=job_id,
            retry=Retry(max=3, interval=[600]),
        )
    work_images(redis_app)

    listed = _jobs(redis_app, "list", "--registry", "scheduled")
    shown = _jobs(redis_app, "show", job_id)
    refused = _jobs(redis_app, "retry", job_id)

    assert f"{job_id}  images/scheduled" in listed.output
    assert "ObjectNotFound: no object" in listed.output
    assert "retries left: 2" in shown.output and "status:       scheduled" in shown.output
    assert "last error: storage.base.ObjectNotFound: no object" in shown.output
    assert refused.exit_code == 1 and "is scheduled, not failed" in refused.output


def test_failed_images_are_listed_and_derived_again_from_the_terminal(redis_app, token_on) -> None:
    from webapp.extensions import db
    from webapp.models import AuditEntry, MediaAsset, OutboxEvent

    failed = fail_an_image_job(redis_app, token_on)

    listed = _jobs(redis_app, "failed-media")
    again = _jobs(redis_app, "failed-media", "--rederive", "--media", str(failed.media_id))
    twice = _jobs(redis_app, "failed-media", "--rederive", "--media", str(failed.media_id))

    assert f"image {failed.media_id}  story {failed.story_id}" in listed.output
    assert "photo-3.jpg: gave up after repeated failures" in listed.output
    assert "1 failed image(s)" in listed.output
    assert again.exit_code == 0 and "1 image(s) will be derived again" in again.output
    assert twice.exit_code == 1 and f"image {failed.media_id} is not a failed image" in twice.output
    with redis_app.app_context():
        assert db.session.get(MediaAsset, failed.media_id).state == "pending"
        event = db.session.scalars(
            db.select(OutboxEvent).where(OutboxEvent.event_type == "media.rederive_requested")
        ).one()
        assert event.payload["media_ids"] == [failed.media_id]
        entry = db.session.scalars(
            db.select(AuditEntry).where(AuditEntry.action == "media.rederive_requested")
        ).one()
        assert (entry.subject_id, entry.actor_id) == (failed.media_id, None)
