"""A crash of the whole embedded stack mid-processing heals itself after a restart.

``passages run`` and all its children are killed with SIGKILL while images are being derived;
the same command is started again and, with no manual step, every image ends ``ready`` and every
story is in the search index within three minutes. In the second case Redis also lost all it
held (its files are deleted before the restart, as after a disk loss or a restored backup):
only the reconciler can find that work again.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import time

import pytest

from tests.conftest import make_jpeg
from tests.faults.embedded_stack import RunningSite, create_token, http, submit, wait_gone

pytestmark = pytest.mark.slow

STORIES = 5
IMAGES = 2


def _state(site: RunningSite, token: str, story_ids: list[int]) -> tuple[int, int]:
    ready = pending = 0
    for story_id in story_ids:
        status, body, _ = http(
            f"{site.base}/api/v1/stories/{story_id}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert status == 200, body
        for media in json.loads(body)["media"]:
            ready += media["state"] == "ready"
            pending += media["state"] == "pending"
    return ready, pending


def _unrelayed(data) -> int:
    with contextlib.closing(sqlite3.connect(data / "passages.sqlite3", timeout=10)) as conn:
        query = "SELECT count(*) FROM outbox_events WHERE relayed_at IS NULL"
        return conn.execute(query).fetchone()[0]


def _indexed(data) -> dict[int, str]:
    from webapp.search import SearchIndex

    index = SearchIndex(data / "index")
    try:
        return index.indexed_statuses()
    finally:
        index.close()


@pytest.mark.parametrize("redis_lost", [False, True], ids=["redis-kept", "redis-lost"])
def test_everything_is_processed_after_a_crash_and_restart(tmp_path, redis_lost):
    data = tmp_path / "data"
    first = RunningSite(data)
    try:
        first.wait_ready()
        token = create_token(data)
        story_ids = []
        for n in range(STORIES):
            images = [make_jpeg(1200, 900, seed=n * IMAGES + i) for i in range(IMAGES)]
            answer = submit(first.base, token, images, title=f"Histoire {n}")
            assert answer["status"] == 202, answer
            story_ids.append(answer["body"]["id"])
        # Crash only once the relay has handed every event to Redis: from then on the work
        # lives only in Redis, and (when Redis is lost) only the reconciler can find it again.
        deadline = time.monotonic() + 20
        while _unrelayed(data) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _unrelayed(data) == 0, first.output()[-3000:]
        ready, _ = _state(first, token, story_ids)
        assert ready < STORIES * IMAGES, "all done before the crash: nothing to prove"
        children = [p.pid for p in first.descendants()]
        os.killpg(first.process.pid, signal.SIGKILL)  # the whole stack, mid-processing
        first.process.wait(timeout=10)
        assert wait_gone(children) == []
    finally:
        first.close()
    if redis_lost:
        shutil.rmtree(data / "redis")

    second = RunningSite(data)
    try:
        second.wait_ready()
        started = time.monotonic()
        while time.monotonic() - started < 300:  # generous: CI runs two stacks at once
            ready, pending = _state(second, token, story_ids)
            indexed = _indexed(data)
            if ready == STORIES * IMAGES and all(s in indexed for s in story_ids):
                break
            time.sleep(1)
        assert (ready, pending) == (STORIES * IMAGES, 0), second.output()[-3000:]
        assert all(indexed.get(s) == "submitted" for s in story_ids), (
            indexed,
            second.output()[-6000:],
        )
        if redis_lost:  # nothing was left in Redis: the reconciler found the work again
            assert "reconciler: " in second.output() and "re-emitted" in second.output()
    finally:
        second.close()
