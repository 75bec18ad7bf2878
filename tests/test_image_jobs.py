"""Image jobs around the pure image code: limits on each job, re-derivation, duplicates.

Every test runs a real ``passages worker`` process against a real Redis server: the memory cap,
the time limit and the give-up path only exist in RQ's forked work horse, so calling the job
function in the test process would prove nothing.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import (
    REPO,
    build_app,
    make_jpeg,
    run_worker_burst_process,
    story_metadata,
    submit_story_now,
    worker_env,
)
from webapp.reasons import words


@pytest.fixture
def redis_app(tmp_path, redis_server):
    app = build_app(tmp_path / "data", REDIS_URL=redis_server.url)
    yield app
    from tests.conftest import _dispose

    _dispose(app)


@pytest.fixture
def pg_redis_app(tmp_path, redis_server, postgres_url):
    app = build_app(tmp_path / "data", REDIS_URL=redis_server.url, DATABASE_URL=postgres_url)
    yield app
    from tests.conftest import _dispose

    _dispose(app)


def _submit(app, images: list[tuple[str, bytes]], email: str = "c@example.org", **meta) -> int:
    from tests.conftest import create_user_now
    from webapp.extensions import db
    from webapp.models import User
    from webapp.services import submissions

    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == email))
        if user is None:
            user, _ = create_user_now(email, "contributor", "long-password-1")
        files = [submissions.IncomingImage(name, io.BytesIO(data)) for name, data in images]
        return submit_story_now(story_metadata(**meta), files, submitter=user).id


def _worker(app, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    return run_worker_burst_process(app, *args, timeout=timeout, **env)


def _media(app, story_id: int) -> list[tuple[str, str | None, dict]]:
    from webapp.extensions import db
    from webapp.models import Story

    with app.app_context():
        story = db.session.get(Story, story_id)
        return [(m.state, m.failure_reason, dict(m.derivatives)) for m in story.media]


def _big_png(side: int = 6000) -> bytes:
    """A 36 MP PNG of a few kilobytes: PNG has no scale-on-load, so decoding needs ~140 MB."""
    out = io.BytesIO()
    Image.new("RGB", (side, side), (90, 140, 200)).save(out, "PNG")
    return out.getvalue()


# --- memory and time limits ------------------------------------------------------------------


@pytest.mark.slow
def test_image_over_the_memory_cap_fails_with_a_reason_and_the_worker_goes_on(redis_app):
    story_id = _submit(redis_app, [("huge.png", _big_png()), ("small.jpg", make_jpeg(seed=2))])
    started = time.perf_counter()
    _worker(redis_app, PASSAGES_JOB_MEMORY_MB="48")
    elapsed = time.perf_counter() - started
    (huge_state, huge_reason, huge_derivatives), (small_state, _, small_derivatives) = _media(
        redis_app, story_id
    )
    assert huge_state == "failed"
    assert "memory" in huge_reason, huge_reason
    assert huge_derivatives == {}
    assert small_state == "ready" and len(small_derivatives) >= 3
    assert elapsed < 60  # failed once, not retried with backoff
    with redis_app.app_context():
        from webapp.services import backends

        keys = [o.key for o in backends.object_store().list("derivatives/")]
        assert keys and all(not k.startswith("derivatives/1/") for k in keys)


@pytest.mark.slow
def test_same_image_is_derived_under_the_default_cap(redis_app):
    story_id = _submit(redis_app, [("huge.png", _big_png())])
    _worker(redis_app)
    [(state, reason, derivatives)] = _media(redis_app, story_id)
    assert state == "ready", reason
    assert derivatives["large"]["width"] == 1600


@pytest.mark.slow
def test_job_over_its_time_limit_ends_failed_not_retried(pg_redis_app):
    """The job's database read is held up by a table lock longer than the job's time limit."""
    import sqlalchemy

    from webapp.extensions import db
    from webapp.models import MediaAsset, OutboxEvent, utcnow
    from webapp.services import backends
    from workers.relay import RETRY

    app = pg_redis_app
    story_id = _submit(app, [("a.jpg", make_jpeg(seed=5))])
    with app.app_context():
        for event in db.session.scalars(db.select(OutboxEvent)):
            event.relayed_at = utcnow()  # we enqueue by hand, with a 1 s limit
        media_id = db.session.scalar(db.select(MediaAsset.id))
        db.session.commit()
        job = backends.queue("images").enqueue_call(
            "workers.images.derive_media", args=(media_id,), timeout=1, retry=RETRY
        )
        url = app.extensions["passages.settings"].database_url
    engine = sqlalchemy.create_engine(url)
    locked = threading.Event()

    def hold_lock() -> None:
        """Hold the lock from before the job starts until 2 s after: past its 1 s limit."""
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("LOCK TABLE media_assets IN ACCESS EXCLUSIVE MODE"))
            locked.set()
            deadline = time.monotonic() + 60
            while job.get_status(refresh=True) == "queued" and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(2)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    assert locked.wait(10)
    started = time.perf_counter()
    try:
        _worker(app, "--queues", "images")
    finally:
        holder.join()
        engine.dispose()
    [(state, reason, _)] = _media(app, story_id)
    assert state == "failed"
    assert words(reason) == "processing took longer than the 1 s a job may run"
    assert time.perf_counter() - started < 30  # no retries with backoff
    with app.app_context():
        assert backends.queue("images").count == 0
        assert backends.queue("images").scheduled_job_registry.count == 0


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.slow
def test_job_whose_process_is_killed_ends_failed_and_the_worker_goes_on(pg_redis_app):
    """As when the kernel's OOM killer picks the work horse: SIGKILL, no Python exception."""
    import signal

    import sqlalchemy

    app = pg_redis_app
    story_id = _submit(app, [("a.jpg", make_jpeg(seed=6))])
    other_id = _submit(app, [("b.jpg", make_jpeg(seed=7))])
    from workers.relay import relay_once

    with app.app_context():  # relayed first: the relay reads each media's kind to pick a queue
        relay_once()
    url = app.extensions["passages.settings"].database_url
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:  # the first job blocks on this lock until its horse is killed
        conn.execute(sqlalchemy.text("LOCK TABLE media_assets IN ACCESS EXCLUSIVE MODE"))
        worker = subprocess.Popen(
            [sys.executable, "-m", "webapp.cli", "worker", "--burst", "--queues", "images"],
            env=worker_env(app),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not (horses := _children(worker.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert horses, "the worker never forked a work horse"
        time.sleep(0.3)
        os.kill(horses[0], signal.SIGKILL)
    engine.dispose()
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err
    [(state, reason, derivatives)] = _media(app, story_id)
    assert state == "failed" and derivatives == {}
    assert words(reason).startswith("the job's process was killed while working"), reason
    assert "signal 9" in words(reason)
    assert [s for s, _, _ in _media(app, other_id)] == ["ready"]


# --- passages rederive -----------------------------------------------------------------------


def _cli(app, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "webapp.cli", *args],
        env=worker_env(app),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
def test_rederive_rebuilds_missing_derivatives_through_a_worker(redis_app):
    from webapp.services import backends

    first = _submit(redis_app, [("a.jpg", make_jpeg(seed=1)), ("b.jpg", make_jpeg(seed=2))])
    second = _submit(redis_app, [("c.jpg", make_jpeg(seed=3))])
    _worker(redis_app)
    with redis_app.app_context():
        store = backends.object_store()
        before = {o.key: store.get(o.key) for o in store.list("derivatives/")}
        for key in before:  # as if a settings change made every derivative obsolete
            store.delete(key)

    result = _cli(redis_app, "rederive", "--story", str(first))
    assert result.returncode == 0, result.stderr
    assert "requested 2 image(s) in 1 story(ies)" in result.stdout
    _worker(redis_app)
    with redis_app.app_context():
        after = {o.key: store.get(o.key) for o in store.list("derivatives/")}
    rebuilt = {k for k in before if k.split("/")[1] in {str(m) for m in (1, 2)}}
    assert set(after) == rebuilt and all(after[k] == before[k] for k in rebuilt)
    assert [s for s, _, _ in _media(redis_app, first)] == ["ready", "ready"]

    result = _cli(redis_app, "rederive", "--all")
    assert "requested 3 image(s) in 2 story(ies)" in result.stdout
    _worker(redis_app)
    with redis_app.app_context():
        assert {o.key for o in store.list("derivatives/")} == set(before)
    assert [s for s, _, _ in _media(redis_app, second)] == ["ready"]


@pytest.mark.slow
def test_rederive_wait_prints_progress_until_the_running_worker_is_done(redis_app):
    story_id = _submit(redis_app, [("a.jpg", make_jpeg(seed=1)), ("x.png", _big_png())])
    _worker(redis_app)
    worker = subprocess.Popen(
        [sys.executable, "-m", "webapp.cli", "worker", "--queues", "images"],
        env={**worker_env(redis_app), "PASSAGES_JOB_MEMORY_MB": "48"},
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        result = _cli(
            redis_app, "rederive", "--story", str(story_id), "--wait", "--interval", "0.2"
        )
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "requested 2 image(s) in 1 story(ies)"
    # The big PNG was derived under the default cap; the running worker has a 48 MB cap.
    assert lines[-1] == "ready 1  failed 1  pending 0", result.stdout
    assert result.returncode == 1
    assert [s for s, _, _ in _media(redis_app, story_id)] == ["ready", "failed"]


@pytest.mark.slow
def test_rederive_needs_a_target(redis_app):
    result = _cli(redis_app, "rederive")
    assert result.returncode == 2
    assert "give either --all or one or more --story ID" in result.stderr


# --- duplicates reported to the archivist ----------------------------------------------------


def test_same_photo_in_two_stories_is_reported_only_to_those_who_may_know(
    app, client, make_user, api_token, publish
):
    from webapp.services import backends

    photo = make_jpeg(seed=9)
    alice, bob, archivist = make_user(), make_user(), make_user("archivist")
    alice_token, bob_token = api_token(alice), api_token(bob)
    staff_token = api_token(archivist)

    def post(token: str, title: str) -> dict:
        response = client.post(
            "/api/v1/stories",
            data={
                "metadata": __import__("json").dumps(story_metadata(title=title)),
                "images": [(io.BytesIO(photo), "grand-pere.jpg")],
            },
            headers={"Authorization": f"Bearer {token}"},
            content_type="multipart/form-data",
        )
        assert response.status_code == 202, response.json
        return response.json

    first = post(alice_token, "Le secret de la famille")
    second = post(bob_token, "Mon grand-père à Ivry")
    first_media, second_media = first["media"][0]["id"], second["media"][0]["id"]

    def media_of(story: dict, token: str | None, status_token: str | None = None) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        query = f"?t={status_token}" if status_token else ""
        response = client.get(f"/api/v1/stories/{story['id']}{query}", headers=headers)
        assert response.status_code == 200
        return response.json["media"][0]

    assert media_of(second, staff_token)["duplicate_of"] == [
        {"story_id": first["id"], "title": "Le secret de la famille", "media_id": first_media}
    ]
    assert media_of(first, staff_token)["duplicate_of"] == [
        {"story_id": second["id"], "title": "Mon grand-père à Ivry", "media_id": second_media}
    ]
    # Bob may not see Alice's unpublished story: told nothing about it, not even its title.
    assert media_of(second, bob_token)["duplicate_of"] == []
    # A status-link holder is not the submitter: no duplicate information at all.
    token = second["status_url"].rsplit("/", 1)[-1]
    assert "duplicate_of" not in media_of(second, None, token)
    assert "Le secret" not in client.get(f"/api/v1/stories/{second['id']}?t={token}").text

    publish(first["id"])
    assert media_of(second, bob_token)["duplicate_of"] == [
        {"story_id": first["id"], "title": "Le secret de la famille", "media_id": first_media}
    ]
    assert "duplicate_of" not in media_of(first, None)  # the public sees no duplicates
    with app.app_context():
        assert len(list(backends.object_store().list("originals/"))) == 1


def test_duplicates_fragment_names_the_other_story(app):
    from flask import render_template_string

    from webapp.services.duplicates import Duplicate

    class Media:
        id = 7

    with app.test_request_context():
        html = render_template_string(
            '{% include "moderation/_duplicates.html" %}',
            media=Media(),
            duplicates={7: [Duplicate(3, "Le marché de Vitry", 5)]},
        )
        empty = render_template_string(
            '{% include "moderation/_duplicates.html" %}', media=Media(), duplicates={}
        )
        missing = render_template_string(
            '{% include "moderation/_duplicates.html" %}', media=Media()
        )
    # French is the interface's default language.
    assert "Cette photo figure déjà dans" in html and "l'histoire 3" in html
    assert "Le marché de Vitry" in html and "/stories/3" in html
    assert empty.strip() == "" and missing.strip() == ""
