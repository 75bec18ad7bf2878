"""Fixtures for the IIIF tests: published stories whose images went through the real pipeline.

Images are submitted through the submission service, derived by the real image job
(``workers.images.derive_media``, writing real derivatives to the test's object store) and
published through the review service, so every IIIF answer is made from what production stores.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from PIL import Image, ImageDraw

from tests.conftest import PASSWORD, create_user_now, in_action, story_metadata, submit_story_now

_numbers = itertools.count(1)


def photo(width: int, height: int, *, fmt: str = "JPEG", orientation: int = 1, seed: int = 1,
          **save) -> bytes:  # fmt: skip
    """A photo-like image with a distinct colour in each quadrant, so crops can be told apart.

    Top-left red, top-right green, bottom-left blue, bottom-right white (as displayed once
    ``orientation`` is applied: the stored pixels are transposed accordingly).
    """
    from webapp.media.imaging import _orient

    picture = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(picture)
    draw.rectangle([0, 0, width // 2, height // 2], fill=(220, 20, 20))
    draw.rectangle([width // 2, 0, width, height // 2], fill=(20, 200, 20))
    draw.rectangle([0, height // 2, width // 2, height], fill=(20, 20, 220))
    draw.rectangle([width // 2, height // 2, width, height], fill=(250, 250, 250))
    draw.ellipse([width * 47 // 100, height * 47 // 100, width * 53 // 100, height * 53 // 100],
                 fill=(seed * 37 % 255, 90, 30))  # fmt: skip
    if orientation != 1:
        # Store the pixels so that applying ``orientation`` gives back the picture drawn above.
        inverse = {2: 2, 3: 3, 4: 4, 5: 5, 6: 8, 7: 7, 8: 6}[orientation]
        picture = _orient(picture, inverse)
        exif = Image.Exif()
        exif[0x0112] = orientation
        save["exif"] = exif.tobytes()
    out = io.BytesIO()
    picture.save(out, fmt, **({"quality": 92} if fmt == "JPEG" else {}) | save)
    return out.getvalue()


@dataclass
class Published:
    story_id: int
    media_ids: list[int]


def create_story(app, *images: bytes, publish: bool = True, **metadata) -> Published:
    """Submit a story with ``images`` (bytes) on ``app``, derive them with the real image job,
    and publish it through the review service (unless ``publish`` is false)."""
    from webapp.extensions import db
    from webapp.models import Role, User
    from webapp.services import review, submissions
    from workers.context import use_app
    from workers.images import derive_media

    with app.app_context():
        story = submit_story_now(
            story_metadata(**metadata),
            [
                submissions.IncomingImage(f"photo-{n}.jpg", io.BytesIO(data))
                for n, data in enumerate(images)
            ],
            submitter=None,
        )
        story_id, media_ids = story.id, [m.id for m in story.media]
    use_app(app)
    for media_id in media_ids:
        assert derive_media(media_id) == "derived"
    if publish:
        with app.app_context():
            archivist = db.session.scalar(
                db.select(User).where(User.role == Role.ARCHIVIST.value)
            ) or create_user_now(f"archivist{next(_numbers)}@example.org", "archivist",
                                 PASSWORD)[0]  # fmt: skip
            in_action(review.review, story_id, "approve", None, archivist)
    return Published(story_id, media_ids)


@pytest.fixture
def make_story(app) -> Callable[..., Published]:
    """``make_story(*images, publish=True, **metadata)`` on the test's app (see create_story)."""

    def make(*images: bytes, publish: bool = True, **metadata) -> Published:
        return create_story(app, *images, publish=publish, **metadata)

    return make


def archivist_of(app):
    """The archivist ``create_story`` published with (needs an application context)."""
    from webapp.extensions import db
    from webapp.models import Role, User

    return db.session.scalar(db.select(User).where(User.role == Role.ARCHIVIST.value))


def decode(data: bytes) -> Image.Image:
    picture = Image.open(io.BytesIO(data))
    picture.load()
    return picture


def colour_at(picture: Image.Image, x: float, y: float) -> tuple[int, int, int]:
    """The colour at a fraction of the picture's width and height."""
    rgb = picture.convert("RGB")
    return rgb.getpixel((int(x * (rgb.width - 1)), int(y * (rgb.height - 1))))


def near(colour: tuple[int, ...], expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=True))


RED, GREEN, BLUE, WHITE = (220, 20, 20), (20, 200, 20), (20, 20, 220), (250, 250, 250)
