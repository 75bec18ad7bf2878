"""An archive to harvest: stories handed in, reviewed, curated, withdrawn and erased through the
services (each action in its own unit of work, as a view does), images derived by the real job.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.conftest import create_user_now, in_action, make_jpeg, story_metadata

_numbers = itertools.count(1)


class Archive:
    """What archivists and contributors do, in a few words per action."""

    def __init__(self, app) -> None:
        self.app = app
        self._archivist_id: int | None = None

    def _archivist(self):
        from webapp.extensions import db
        from webapp.models import User

        if self._archivist_id is None:
            user, _ = create_user_now(f"archivist{next(_numbers)}@example.org", "archivist")
            self._archivist_id = user.id
        return db.session.get(User, self._archivist_id)

    def organisation(self, name: str) -> int:
        from webapp.models import Organisation
        from webapp.unit_of_work import unit_of_work

        with self.app.app_context(), unit_of_work() as uow:
            row = uow.add(Organisation(name=name, kind="association"))
            uow.flush()
            return row.id

    def story(
        self,
        *,
        publish: bool = True,
        images: int = 0,
        organisation_id: int | None = None,
        **metadata: Any,
    ) -> int:
        """Hand in a story (with ``images`` derived photos) and, unless told not to, publish it."""
        import io

        from webapp.extensions import db
        from webapp.models import Story
        from webapp.services import review, submissions
        from workers.context import use_app
        from workers.images import derive_media

        use_app(self.app)
        with self.app.app_context():
            contributor, _ = create_user_now(f"contributor{next(_numbers)}@example.org",
                                             "contributor")  # fmt: skip
            if organisation_id is not None:
                from webapp.unit_of_work import unit_of_work

                with unit_of_work():
                    contributor.organisation_id = organisation_id
            files = [
                submissions.IncomingImage(f"photo{n}.jpg", io.BytesIO(make_jpeg(seed=n + 1)))
                for n in range(images)
            ]
            story = in_action(submissions.submit_story, story_metadata(**metadata), files,
                              submitter=contributor)  # fmt: skip
            story_id = story.id
            media_ids = [m.id for m in db.session.get(Story, story_id).media]
        for media_id in media_ids:
            derive_media(media_id)
        with self.app.app_context():
            if publish:
                in_action(review.review, story_id, "approve", None, self._archivist())
            return story_id

    def index(self, *story_ids: int) -> None:
        """Put stories in the search index as the search worker does."""
        from webapp.services import backends
        from webapp.services.indexing import document_for
        from webapp.services.stories import find_story

        with self.app.app_context():
            for story_id in story_ids:
                backends.search_index().upsert(document_for(find_story(story_id)))

    def act(self, action: str, story_id: int, note: str | None = None) -> None:
        from webapp.services import review

        with self.app.app_context():
            in_action(review.apply, story_id, action, self._archivist(), note)

    def edit(self, story_id: int, **changes: Any) -> None:
        from webapp.services import editing

        with self.app.app_context():
            in_action(editing.edit_metadata, story_id, changes, self._archivist())

    def erase(self, story_id: int) -> None:
        from webapp.services import erasure

        with self.app.app_context():
            in_action(erasure.erase_story, story_id, self._archivist())

    def collection(self, title: str, story_ids: list[int], *, published: bool = True) -> int:
        from webapp.services import collections

        with self.app.app_context():
            fields = collections.CollectionFields(title, "", "", published, False)
            collection = in_action(collections.save_collection, fields, self._archivist())
            for story_id in story_ids:
                in_action(collections.add_story, collection.id, story_id, self._archivist())
            return collection.id

    def publish_collection(self, collection_id: int, published: bool) -> None:
        from webapp.services import collections

        with self.app.app_context():
            row = collections.get_collection(collection_id)
            fields = collections.CollectionFields(row.title, row.slug, row.introduction,
                                                  published, False)  # fmt: skip
            in_action(collections.save_collection, fields, self._archivist(), collection_id)


@pytest.fixture
def archive(app) -> Archive:
    return Archive(app)


@pytest.fixture
def app(tmp_path):
    """The usual per-test app, with OAI-PMH lists of two so that every harvest pages."""
    from tests.conftest import _dispose, build_app

    app = build_app(tmp_path / "data", PASSAGES_OAI_PAGE_SIZE="2")
    yield app
    _dispose(app)
