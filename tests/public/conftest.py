"""Fixtures for the public pages: stories in a given state, indexed in the real search index.

Stories are written straight to the database (the submission path has its own tests) and then
indexed through ``document_for`` and the real Whoosh index, exactly as the worker does.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import PASSWORD

_numbers = itertools.count(1)


@pytest.fixture
def make_story(app) -> Callable[..., int]:
    """Create a story in ``status`` (published by default), index it, return its id."""

    def make(
        title: str = "Le marché de Vitry",
        *,
        status: str = "published",
        organisation: str | None = None,
        media: int = 0,
        **fields: Any,
    ) -> int:
        from webapp.extensions import db
        from webapp.models import MediaAsset, Organisation, Story
        from webapp.periods import parse_period
        from webapp.services import backends
        from webapp.services.indexing import document_for

        with app.app_context():
            values: dict[str, Any] = {
                "body": "Ma grand-mère vendait des épices au marché le samedi.",
                "language": "fr",
                "places": ["Vitry-sur-Seine"],
                "period": "1962",
                "themes": ["travail"],
                "licence": "CC-BY-4.0",
                "consent": {"contributor": True},
            }
            values.update(fields)
            if values.get("period"):
                period = parse_period(values["period"])
                values.setdefault("period_start", period.start)
                values.setdefault("period_end", period.end)
            story = Story(title=title, status=status, **values)
            if status == "published" and story.published_at is None:
                story.published_at = datetime.now(UTC)
            if organisation:
                org = db.session.scalar(
                    db.select(Organisation).where(Organisation.name == organisation)
                ) or Organisation(name=organisation, kind="association")
                story.organisation = org
            for n in range(media):
                number = next(_numbers)
                derivatives = {
                    name: {
                        "key": f"derivatives/{number}/{name}.webp",
                        "mime": "image/webp",
                        "width": width,
                        "height": width * 3 // 4,
                        "bytes": 1000,
                    }
                    for name, width in (("thumb", 320), ("medium", 800), ("large", 1600))
                }
                story.media.append(
                    MediaAsset(
                        position=n,
                        original_key=f"originals/sha256/{number:064x}",
                        sha256=f"{number:064x}",
                        mime_type="image/jpeg",
                        byte_size=1000,
                        width=1600,
                        height=1200,
                        alt_text=f"Photo {n + 1} de {title}",
                        state="ready",
                        derivatives=derivatives,
                    )
                )
            db.session.add(story)
            db.session.commit()
            backends.search_index().upsert(document_for(story))
            return story.id

    return make


@pytest.fixture
def reindex(app) -> Callable[[int], None]:
    def run(story_id: int) -> None:
        from webapp.extensions import db
        from webapp.models import Story
        from webapp.services import backends
        from webapp.services.indexing import document_for

        with app.app_context():
            backends.search_index().upsert(document_for(db.session.get(Story, story_id)))

    return run


@pytest.fixture
def login(client, make_user) -> Callable[[str], int]:
    """Log the test client in as a new user with ``role``; returns the user id."""

    def do(role: str = "archivist") -> int:
        from webapp.extensions import db
        from webapp.models import User

        user_id = make_user(role)
        with client.application.app_context():
            email = db.session.get(User, user_id).email
        response = client.post("/login", data={"email": email, "password": PASSWORD})
        assert response.status_code == 302, response.text
        return user_id

    return do
