"""Fixtures for operations tests: an archive with stories and derived images, and the CLI."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import REPO, make_jpeg, story_metadata, submit_story_via_api, worker_env


def derive_all(app) -> None:
    """Do what the workers would: derive every pending image and index every story."""
    from webapp.extensions import db
    from webapp.models import MediaAsset, MediaState, Story
    from workers.context import use_app
    from workers.images import derive_media
    from workers.search import index_story

    with app.app_context():
        pending = db.session.scalars(
            db.select(MediaAsset.id).where(MediaAsset.state == MediaState.PENDING.value)
        ).all()
        stories = db.session.scalars(db.select(Story.id)).all()
    use_app(app)
    for media_id in pending:
        derive_media(media_id)
    for story_id in stories:
        index_story(story_id)


def add_story(app, token: str, *seeds: int, **metadata: Any) -> int:
    """Submit a story through the API with one JPEG per seed; return its id."""
    images = [(f"photo-{seed}.jpg", make_jpeg(seed=seed)) for seed in seeds]
    response = submit_story_via_api(app.test_client(), token, story_metadata(**metadata), images)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def run_cli(app, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``passages <args>`` as an operator would, against ``app``'s data."""
    return subprocess.run(
        [sys.executable, "-m", "webapp.cli", *args],
        env={**worker_env(app), **(env or {})},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def contributor_token(make_user, api_token) -> str:
    return api_token(make_user("contributor"))


@pytest.fixture
def cli(app) -> Callable[..., subprocess.CompletedProcess]:
    def run(*args: str, **env: str) -> subprocess.CompletedProcess:
        return run_cli(app, *args, env=env)

    return run
