"""Fixtures for exports and imports: an archive of published stories with real derived images,
the commands run in-process, and bags unpacked for the ``bagit`` library to validate."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSWORD, create_user_now, make_jpeg, story_metadata, submit_story_now
from tests.ops.conftest import derive_all


def add_story(app, *seeds: int, publish: bool = True, **metadata: Any) -> int:
    """A story handed in through the submission service with one JPEG per seed, then (by
    default) approved and published by an archivist through the review service."""
    from webapp.extensions import db
    from webapp.models import Role, User
    from webapp.services import review
    from webapp.services.submissions import IncomingImage
    from webapp.unit_of_work import unit_of_work

    with app.app_context():
        images = [IncomingImage(f"photo-{s}.jpg", io.BytesIO(make_jpeg(seed=s))) for s in seeds]
        story = submit_story_now(story_metadata(**metadata), images, submitter=None)
        story_id = story.id
        if publish:
            archivist = db.session.scalar(db.select(User).where(User.role == Role.ARCHIVIST.value))
            if archivist is None:
                archivist, _ = create_user_now("keeper@example.org", "archivist", PASSWORD)
            with unit_of_work() as uow:
                review.review(uow, story_id, "approve", None, archivist)
    return story_id


@pytest.fixture
def story(app) -> Callable[..., int]:
    def make(*seeds: int, **options: Any) -> int:
        return add_story(app, *seeds, **options)

    return make


@pytest.fixture
def derive(app) -> Callable[[], None]:
    return lambda: derive_all(app)


def invoke(app, command, *args: str):
    """Run a ``passages`` command in-process against ``app`` (as the console script would)."""
    result = app.test_cli_runner().invoke(command, list(args))
    return result


def unpack(bag_zip: Path, into: Path) -> Path:
    """Unzip a bag; return the bag's folder (the zip's one top-level folder)."""
    with zipfile.ZipFile(bag_zip) as archive:
        archive.extractall(into)
    (folder,) = [p for p in into.iterdir() if p.is_dir()]
    return folder


def read_stories_csv(folder: Path) -> list[dict[str, str]]:
    raw = (folder / "data" / "stories.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "stories.csv must start with a UTF-8 BOM"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


# The archivist's screens log in the way the public pages' tests do (one fixture for both).
from tests.public.conftest import login  # noqa: E402, F401
