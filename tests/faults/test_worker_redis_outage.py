"""``passages worker`` survives a Redis outage during jobs, and the work is done once it is back.

The Redis here has no persistence: a restart comes back empty, so the jobs in flight are lost
too. The worker must still be there afterwards (it used to exit), and the reconciler it keeps
scheduled must find the lost work and hand it in again.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, _dispose, build_app, make_jpeg, submit_story_via_api, worker_env

pytestmark = pytest.mark.slow

FAST = dict(PASSAGES_RECONCILE_INTERVAL="3", PASSAGES_RECONCILE_GRACE="2")


def _token(app) -> str:
    from tests.conftest import PASSWORD, create_user_now
    from webapp.extensions import db
    from webapp.models import ApiToken

    with app.app_context():
        user, _ = create_user_now("o@example.org", "contributor", PASSWORD)
        row, token = ApiToken.issue(user, "test")
        db.session.add(row)
        db.session.commit()
    return token


def _states(app) -> list[str]:
    from webapp.extensions import db
    from webapp.models import MediaAsset

    with app.app_context():
        db.session.remove()
        return [m.state for m in db.session.scalars(db.select(MediaAsset))]


def test_worker_waits_through_a_redis_outage_and_the_work_gets_done(tmp_path, redis_server):
    app = build_app(tmp_path / "data", REDIS_URL=redis_server.url, **FAST)
    env = {**worker_env(app), **FAST, "PASSAGES_LOG_LEVEL": "INFO"}
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "webapp.cli", "worker"],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        relay = subprocess.Popen(
            [sys.executable, "-m", "webapp.cli", "relay"],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    try:
        token = _token(app)
        client = app.test_client()
        for n in range(4):
            images = [(f"{i}.jpg", make_jpeg(1600, 1200, seed=n * 3 + i)) for i in range(3)]
            assert submit_story_via_api(client, token, images=images).status_code == 202
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "ready" not in _states(app):
            time.sleep(0.2)
        assert "pending" in _states(app), "all done before the outage: nothing to prove"
        redis_server.kill()  # jobs in flight and queued are lost with it
        time.sleep(5)
        assert worker.poll() is None, log_path.read_text()
        redis_server.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and set(_states(app)) != {"ready"}:
            time.sleep(0.5)
        assert set(_states(app)) == {"ready"}, log_path.read_text()[-4000:]
        assert worker.poll() is None  # the same worker process, still serving
        text = log_path.read_text()
        assert text.count("Redis unreachable") <= 1 and "Redis reachable again" in text
    finally:
        for process in (worker, relay):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        _dispose(app)
