"""Fixtures for exhibitions: published stories with real images (derived by the real job code),
collections made through the curation service, and the exhibition jobs run in this process.

The jobs are the functions the worker runs (``workers.exhibitions``); calling them here is
what a worker does after the relay, minus the queue, which the slow test covers.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import create_user_now, in_action, story_metadata, submit_story_now
from tests.public.conftest import login  # noqa: F401 - the shared login fixture


@pytest.fixture
def exhibit(app):
    """The app with the in-process jobs bound to it, and the helpers the tests share."""
    from workers.context import use_app

    use_app(app)
    return Helpers(app)


class Helpers:
    def __init__(self, app) -> None:
        self.app = app

    def archivist(self):
        from webapp.extensions import db
        from webapp.models import Role, User

        archivist = db.session.scalar(db.select(User).where(User.role == Role.ARCHIVIST.value))
        if archivist is None:
            archivist, _ = create_user_now("archivist@example.org", "archivist")
        return archivist

    def story(self, title: str, images: list[bytes] = (), publish: bool = True, **meta: Any) -> int:
        """Submit a story with images, derive them as the image job does, and publish it."""
        from webapp.services import review, submissions
        from workers.images import derive_media

        with self.app.app_context():
            contributor, _ = create_user_now("contributor@example.org", "contributor")
            files = [
                submissions.IncomingImage(f"photo{n}.jpg", io.BytesIO(data))
                for n, data in enumerate(images)
            ]
            story = submit_story_now(story_metadata(title=title, **meta), files,
                                     submitter=contributor)  # fmt: skip
            story_id, media_ids = story.id, [m.id for m in story.media]
        for media_id in media_ids:
            assert derive_media(media_id) == "derived"
        if publish:
            with self.app.app_context():
                in_action(review.review, story_id, "approve", None, self.archivist())
        return story_id

    def collection(self, title: str, story_ids: list[int], published: bool = True) -> str:
        from webapp.services import collections

        with self.app.app_context():
            fields = collections.CollectionFields(title, "", "Une exposition **itinérante**.",
                                                  published, False)  # fmt: skip
            collection = in_action(collections.save_collection, fields, self.archivist())
            for story_id in story_ids:
                in_action(collections.add_story, collection.id, story_id, self.archivist())
            return collection.slug

    def collection_id(self, slug: str) -> int:
        from webapp.extensions import db
        from webapp.models import Collection

        with self.app.app_context():
            return db.session.scalar(db.select(Collection.id).where(Collection.slug == slug))

    def build(self, slug: str) -> str | None:
        from workers.exhibitions import build_exhibition

        return build_exhibition(self.collection_id(slug))

    def story_url(self, story_id: int) -> str:
        """The story's permanent address (``/stories/<id>``), which the panels link to."""
        from flask import url_for

        with self.app.test_request_context("/"):
            return url_for("public.story", story_id=story_id, slug=None, _external=True)

    def events(self, event_type: str) -> list[dict]:
        from webapp.extensions import db
        from webapp.models import OutboxEvent

        with self.app.app_context():
            return [
                e.payload
                for e in db.session.scalars(
                    db.select(OutboxEvent)
                    .where(OutboxEvent.event_type == event_type)
                    .order_by(OutboxEvent.id)
                )
            ]

    def act(self, service: Callable[..., Any], *args: Any) -> Any:
        with self.app.app_context():
            return in_action(service, *args, self.archivist())

    def objects(self, prefix: str = "exhibitions/") -> dict[str, bytes]:
        from webapp.services import backends

        with self.app.app_context():
            store = backends.object_store()
            return {info.key: store.get(info.key) for info in store.list(prefix)}
