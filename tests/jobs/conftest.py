"""Fixtures for the jobs tests (``passages jobs``, the admin page, ``/metrics``, pruning): a
real Redis with a job that failed for good.

The failed job is made the way production makes one: an image job runs in a real RQ work horse
(:class:`workers.worker.PassagesWorker`, forked) and fails on an original missing from the
store — a permanent error, so RQ moves it to its failed registry and the worker marks the
image ``failed`` with its reason and counts the failure for ``/metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.conftest import PASSWORD, _dispose, build_app, create_user_now
from tests.ops.conftest import add_story


@pytest.fixture
def redis_app(tmp_path, redis_server):
    app = build_app(tmp_path / "data", REDIS_URL=redis_server.url)
    yield app
    _dispose(app)


@dataclass
class FailedJob:
    job_id: str
    media_id: int
    story_id: int


def work_images(app) -> None:
    """Run a real worker over the images queue until it is empty (no relaying)."""
    from workers.context import use_app
    from workers.worker import _build_worker

    use_app(app)
    _build_worker(app, ["images"]).work(burst=True)


def fail_an_image_job(app, token: str, seed: int = 3) -> FailedJob:
    """Submit a story, lose its original, and let a real worker fail its image job for good."""
    from webapp.extensions import db
    from webapp.models import MediaAsset
    from webapp.services import backends

    story_id = add_story(app, token, seed)
    with app.app_context():
        media = db.session.scalars(
            db.select(MediaAsset).where(MediaAsset.story_id == story_id)
        ).one()
        backends.object_store().delete(media.original_key)
        job_id = f"{backends.settings().queue_prefix}-manual-{media.id}"
        backends.queue("images").enqueue_call(
            "workers.images.derive_media", args=(media.id,), job_id=job_id, failure_ttl=86400
        )
        media_id = media.id
    work_images(app)
    return FailedJob(job_id=job_id, media_id=media_id, story_id=story_id)


@pytest.fixture
def token_on(redis_app, make_user_on):
    from webapp.extensions import db
    from webapp.models import ApiToken, User

    with redis_app.app_context():
        row, token = ApiToken.issue(db.session.get(User, make_user_on("contributor")), "test")
        db.session.add(row)
        db.session.commit()
    return token


@pytest.fixture
def make_user_on(redis_app):
    def make(role: str, email: str | None = None) -> int:
        with redis_app.app_context():
            user, _ = create_user_now(email or f"{role}@example.org", role, PASSWORD)
            return user.id

    return make
