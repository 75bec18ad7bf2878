"""Fixtures for recordings: an API token, and a way to run the recording job in this process."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import story_metadata
from tests.public.conftest import login  # noqa: F401 - the fixture


@pytest.fixture
def token(make_user, api_token) -> str:
    return api_token(make_user("contributor"))


@pytest.fixture
def upload(client, token) -> Callable:
    """POST /api/v1/stories with ``files`` parts (the recordings' part name)."""

    def send(*files: tuple[str, bytes], part: str = "files", **metadata):
        import io
        import json

        data = {
            "metadata": json.dumps(story_metadata(**metadata)),
            part: [(io.BytesIO(content), name) for name, content in files],
        }
        return client.post(
            "/api/v1/stories",
            data=data,
            headers={"Authorization": f"Bearer {token}"},
            content_type="multipart/form-data",
        )

    return send


@pytest.fixture
def derive(app) -> Callable[[int], str]:
    """Run the recording job for one media in this process (what the worker's horse runs)."""
    from workers.context import use_app
    from workers.recordings import derive_recording

    def run(media_id: int, force: bool = False) -> str:
        use_app(app)
        return derive_recording(media_id, force)

    return run
