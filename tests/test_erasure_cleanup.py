"""Erasure keeps its promise when the object store fails during the request: the story.erased
event's job deletes what is left, and never an original a newer story uses."""

from __future__ import annotations

import io

import pytest

from tests.conftest import (
    build_app,
    in_action,
    make_jpeg,
    run_worker_burst_process,
    story_metadata,
    submit_story_now,
)


@pytest.fixture
def app_with_redis(tmp_path, redis_server):
    app = build_app(tmp_path / "data", REDIS_URL=redis_server.url)
    yield app
    from tests.conftest import _dispose

    _dispose(app)


def _story(app, photo: bytes, title: str) -> int:
    from tests.conftest import create_user_now
    from webapp.extensions import db
    from webapp.models import User
    from webapp.services import submissions

    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == "c@example.org"))
        if user is None:
            user, _ = create_user_now("c@example.org", "contributor", "long-password-1")
        image = submissions.IncomingImage("p.jpg", io.BytesIO(photo))
        return submit_story_now(story_metadata(title=title), [image], submitter=user).id


def _keys(app) -> list[str]:
    from webapp.services import backends

    with app.app_context():
        return sorted(info.key for info in backends.object_store().list(""))


@pytest.mark.slow
def test_objects_left_by_a_failed_delete_are_removed_by_the_erasure_job(
    app_with_redis, make_user, monkeypatch
):
    from storage import StorageUnavailable
    from webapp.extensions import db
    from webapp.models import User
    from webapp.services import backends, erasure

    app = app_with_redis
    kept_photo, erased_photo = make_jpeg(seed=31), make_jpeg(seed=32)
    erased_id = _story(app, erased_photo, "À effacer")
    run_worker_burst_process(app)
    before = _keys(app)
    assert any(k.startswith("derivatives/") for k in before)
    with app.app_context():
        store = backends.object_store()

        def unreachable(key):
            raise StorageUnavailable("object store down")

        monkeypatch.setattr(store, "delete", unreachable)
        archivist = db.session.get(User, make_user("archivist"))
        in_action(erasure.erase_story, erased_id, archivist)
    monkeypatch.undo()
    assert _keys(app) == before  # nothing could be deleted during the request
    # Meanwhile someone submits the same photo again in a new story.
    _story(app, erased_photo, "Même photo, nouvelle histoire")
    _story(app, kept_photo, "Autre histoire")
    run_worker_burst_process(app)
    after = _keys(app)
    import hashlib

    sha = hashlib.sha256(erased_photo).hexdigest()
    assert f"originals/sha256/{sha[:2]}/{sha}" in after  # the newer story still needs it
    with app.app_context():
        from webapp.models import MediaAsset

        live_media = set(db.session.scalars(db.select(MediaAsset.id)).all())
    derivative_owners = {int(k.split("/")[1]) for k in after if k.startswith("derivatives/")}
    assert derivative_owners == live_media  # the erased story's derivatives are gone


def test_an_erased_storys_id_is_never_given_to_another_story(app, make_user):
    from webapp.extensions import db
    from webapp.models import MediaAsset, User
    from webapp.services import erasure

    first = _story(app, make_jpeg(seed=41), "Première")
    newest = _story(app, make_jpeg(seed=42), "La plus récente")
    with app.app_context():
        newest_media = db.session.scalar(
            db.select(MediaAsset.id).where(MediaAsset.story_id == newest)
        )
        in_action(erasure.erase_story, newest, db.session.get(User, make_user("archivist")))
    replacement = _story(app, make_jpeg(seed=43), "Après l'effacement")
    assert replacement not in (first, newest) and replacement > newest
    with app.app_context():
        media_id = db.session.scalar(
            db.select(MediaAsset.id).where(MediaAsset.story_id == replacement)
        )
    assert media_id > newest_media  # derivative keys of the erased image are never reused
