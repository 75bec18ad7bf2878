"""Leftovers: what failed or killed submissions leave behind is collected, and never too much.

The collector removes objects no row refers to once they are older than the grace period; a
failed submission removes its own originals at once. Both take the key's claim first, so neither
can delete an original that a concurrent submission of the same bytes is about to commit — the
races below are run for real, with threads holding transactions open, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import _dispose, build_app, make_jpeg, story_metadata


@pytest.fixture(params=["sqlite", "postgresql"])
def race_app(request: pytest.FixtureRequest, tmp_path: Path):
    env = {}
    if request.param == "postgresql":
        env["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    app = build_app(tmp_path / "data", **env)
    yield app
    _dispose(app)


def _user(app, email: str = "c@example.org") -> int:
    from tests.conftest import create_user_now

    with app.app_context():
        user, _ = create_user_now(email, "contributor", "long-password-1")
        return user.id


def _key_of(data: bytes) -> str:
    import hashlib

    sha = hashlib.sha256(data).hexdigest()
    return f"originals/sha256/{sha[:2]}/{sha}"


class HeldSubmission(threading.Thread):
    """A submission that stops after storing its originals and waits before committing
    (the moment a concurrent deletion could hurt it); ``fail`` makes it roll back instead."""

    def __init__(self, app, user_id: int, data: bytes, *, fail: bool = False) -> None:
        super().__init__(daemon=True)
        self.app, self.user_id, self.data, self.fail = app, user_id, data, fail
        self.stored = threading.Event()
        self.release = threading.Event()
        self.story_id: int | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        from webapp.extensions import db
        from webapp.models import User
        from webapp.services import submissions
        from webapp.unit_of_work import unit_of_work

        try:
            with self.app.app_context():
                try:
                    with unit_of_work() as uow:
                        user = db.session.get(User, self.user_id)
                        image = submissions.IncomingImage("photo.jpg", io.BytesIO(self.data))
                        story = submissions.submit_story(
                            uow, story_metadata(), [image], submitter=user
                        )
                        self.stored.set()
                        self.release.wait(60)
                        if self.fail:
                            raise RuntimeError("the action failed after the upload")
                    self.story_id = story.id
                except RuntimeError as exc:
                    if not self.fail:
                        raise
                    self.error = exc
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            self.stored.set()


def _original_exists_and_is_used(app, key: str) -> tuple[bool, bool]:
    from webapp.extensions import db
    from webapp.models import MediaAsset
    from webapp.services import backends

    with app.app_context():
        used = db.session.scalar(
            db.select(MediaAsset.id).where(MediaAsset.original_key == key).limit(1)
        )
        return backends.object_store().exists(key), used is not None


def test_collector_waits_for_a_submission_in_flight_and_keeps_its_original(race_app) -> None:
    data = make_jpeg(seed=21)
    key = _key_of(data)
    submission = HeldSubmission(race_app, _user(race_app), data)
    submission.start()
    assert submission.stored.wait(60) and submission.error is None
    outcome: dict[str, object] = {}

    def collect() -> None:
        from webapp.operations.collector import delete_if_unreferenced

        with race_app.app_context():
            # grace period 0: only the claim protects the uncommitted submission
            outcome["deleted"] = delete_if_unreferenced(key, datetime.now(UTC) + timedelta(1))

    collector = threading.Thread(target=collect, daemon=True)
    collector.start()
    collector.join(1.0)  # give it every chance to run ahead of the commit
    submission.release.set()
    submission.join(60)
    collector.join(60)

    assert submission.error is None and submission.story_id is not None
    assert outcome == {"deleted": False}
    assert _original_exists_and_is_used(race_app, key) == (True, True)


def test_erasure_job_waits_for_a_submission_of_the_same_photo_and_keeps_its_original(
    race_app, monkeypatch
) -> None:
    """The ``story.erased`` job deletes under the claim too: the erased story's photo, handed in
    again by someone else at that moment, survives."""
    from workers import context
    from workers.maintenance import delete_erased_objects

    data = make_jpeg(seed=25)
    key = _key_of(data)
    submission = HeldSubmission(race_app, _user(race_app), data)
    submission.start()
    assert submission.stored.wait(60) and submission.error is None
    monkeypatch.setattr(context, "_app", race_app)  # the job runs in this app (restored after)
    monkeypatch.setattr(context, "_pid", os.getpid())
    outcome: dict[str, object] = {}
    job = threading.Thread(
        target=lambda: outcome.update(deleted=delete_erased_objects(1, [key])), daemon=True
    )
    job.start()
    job.join(1.0)  # give it every chance to run ahead of the commit
    submission.release.set()
    submission.join(60)
    job.join(60)

    assert submission.error is None and submission.story_id is not None
    assert outcome == {"deleted": 0}
    assert _original_exists_and_is_used(race_app, key) == (True, True)
    # Positive control: once nothing refers to it, the same job deletes it.
    from webapp.extensions import db
    from webapp.models import MediaAsset

    with race_app.app_context():
        db.session.execute(db.delete(MediaAsset).where(MediaAsset.original_key == key))
        db.session.commit()
    assert delete_erased_objects(1, [key]) == 1
    assert _original_exists_and_is_used(race_app, key) == (False, False)


def test_failed_submission_never_deletes_what_a_concurrent_one_of_the_same_bytes_commits(
    race_app,
) -> None:
    data = make_jpeg(seed=22)
    key = _key_of(data)
    first, second = _user(race_app), _user(race_app, "d@example.org")
    failing = HeldSubmission(race_app, first, data, fail=True)
    failing.start()
    assert failing.stored.wait(60)
    succeeding = HeldSubmission(race_app, second, data)
    succeeding.start()
    time.sleep(1.0)  # the second submission now waits for the first one's claim
    failing.release.set()  # the first fails; its compensation wants to delete the original
    time.sleep(1.0)  # ... while the second holds the claim, or has not written its rows yet
    succeeding.release.set()
    failing.join(60)
    succeeding.join(60)

    assert isinstance(failing.error, RuntimeError)
    assert succeeding.error is None and succeeding.story_id is not None
    assert _original_exists_and_is_used(race_app, key) == (True, True)


def test_a_failed_submission_removes_its_own_original_at_once(app) -> None:
    data = make_jpeg(seed=23)
    submission = HeldSubmission(app, _user(app), data, fail=True)
    submission.start()
    submission.stored.wait(60)
    submission.release.set()
    submission.join(60)

    assert isinstance(submission.error, RuntimeError)
    assert _original_exists_and_is_used(app, _key_of(data)) == (False, False)


def _age(app, key: str, hours: float) -> None:
    root = app.extensions["passages.settings"].data_dir / "objects" / "data"
    *folders, name = key.split("/")
    then = time.time() - hours * 3600
    os.utime(root.joinpath(*(f + "@" for f in folders), name), (then, then))


def test_collector_removes_old_leftovers_and_partial_uploads_only(app) -> None:
    """What a killed request leaves (an original without a row, a partial upload) goes once it
    is older than the grace period; recent leftovers and everything referenced stay."""
    from webapp.extensions import db
    from webapp.models import User
    from webapp.operations.collector import collect_leftovers
    from webapp.services import backends, submissions
    from webapp.unit_of_work import unit_of_work

    user_id = _user(app)
    kept = make_jpeg(seed=24)
    with app.app_context(), unit_of_work() as uow:
        submissions.submit_story(
            uow,
            story_metadata(),
            [submissions.IncomingImage("kept.jpg", io.BytesIO(kept))],
            submitter=db.session.get(User, user_id),
        )
    old_orphan, new_orphan = _key_of(b"killed request 1"), _key_of(b"killed request 2")
    stale_derivative = "derivatives/4242/thumb.webp"
    with app.app_context():
        store = backends.object_store()
        for key in (old_orphan, new_orphan, stale_derivative):
            store.put(key, key.encode())
    for key in (old_orphan, stale_derivative, _key_of(kept)):
        _age(app, key, 30)
    partial = app.extensions["passages.settings"].data_dir / "objects" / "tmp" / "upload.part"
    partial.write_bytes(b"half an upload")
    then = time.time() - 30 * 3600
    os.utime(partial, (then, then))

    with app.app_context():
        report = collect_leftovers()  # default grace: 24 hours
        again = collect_leftovers()

    assert sorted(report.deleted) == sorted([old_orphan, stale_derivative])
    assert report.young == [new_orphan]
    assert report.partial_uploads == 1 and not partial.exists()
    assert again.deleted == []
    with app.app_context():
        assert store.exists(_key_of(kept)) and store.exists(new_orphan)
        assert not store.exists(old_orphan)
