"""``passages run`` supervises its children and never leaves one behind.

On the real process tree: the site, its worker (with RQ's scheduler and work horses) and the
embedded redis-server. A dead worker is restarted; SIGTERM stops everything cleanly; SIGKILL of
``passages run`` alone (no chance to clean up) still leaves no process in the process table.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.conftest import make_jpeg
from tests.faults.embedded_stack import (
    RunningSite,
    alive,
    create_token,
    http,
    submit,
    wait_gone,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def site(tmp_path):
    running = RunningSite(tmp_path / "data")
    try:
        running.wait_ready()
        # The worker and its scheduler are up once the scheduler child exists.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(running.descendants()) < 3:
            time.sleep(0.2)
        yield running
    finally:
        running.close()


def test_sigterm_stops_every_child_and_redis_closes_its_files(site):
    children = [p.pid for p in site.descendants()]
    names = " ".join(" ".join(p.cmdline()) for p in site.descendants())
    assert "redis-server" in names and "webapp.cli worker" in names
    os.kill(site.process.pid, signal.SIGTERM)
    assert site.process.wait(timeout=60) == 0
    assert wait_gone(children, timeout=5) == []
    # Redis was shut down properly: its append-only file is there and it logged a clean exit.
    redis_dir = site.data / "redis"
    assert any(p.name.startswith("appendonly") for p in redis_dir.iterdir())
    assert "ready to exit" in (redis_dir / "redis.log").read_text()
    assert not (site.data / "run" / "children.json").exists()


def test_sigkill_of_run_alone_leaves_no_process_behind(site):
    children = [p.pid for p in site.descendants()]
    assert len(children) >= 3  # redis-server, worker, RQ's scheduler
    os.kill(site.process.pid, signal.SIGKILL)  # not the group: run has no chance to clean up
    site.process.wait(timeout=10)
    assert wait_gone(children, timeout=20) == [], "children outlived passages run"


#: The worker for everything but recordings (which have a worker of their own).
MAIN_WORKER = "webapp.cli worker --queues search,images,default"


def test_a_worker_that_dies_is_restarted_and_work_goes_on(site, tmp_path):
    assert site.child_named("webapp.cli worker --queues recordings") is not None
    worker = site.child_named(MAIN_WORKER)
    assert worker is not None
    worker.kill()
    deadline = time.monotonic() + 30
    replacement = None
    while time.monotonic() < deadline:
        replacement = site.child_named(MAIN_WORKER)
        if replacement is not None and replacement.pid != worker.pid:
            break
        time.sleep(0.2)
    assert replacement is not None and replacement.pid != worker.pid
    assert "restarting in" in site.output()
    token = create_token(site.data)
    answer = submit(site.base, token, [make_jpeg(seed=4)])
    assert answer["status"] == 202
    story_id = answer["body"]["id"]

    deadline = time.monotonic() + 90
    state = None
    while time.monotonic() < deadline:
        state = json.loads(
            http(
                f"{site.base}/api/v1/stories/{story_id}",
                headers={"Authorization": f"Bearer {token}"},
            )[1]
        )["media"][0]["state"]
        if state == "ready":
            break
        time.sleep(0.5)
    assert state == "ready"


def test_a_second_run_on_the_same_data_is_refused(site):
    second = RunningSite(site.data)
    try:
        assert second.process.wait(timeout=60) != 0
        assert "another 'passages run' is using" in second.output()
        assert alive([site.process.pid]) == [site.process.pid]
    finally:
        second.close()
