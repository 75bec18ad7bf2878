"""An unopenable index against a running site (issue 11.5): ``passages run`` answers "being
rebuilt" while the rest of the site works, and its worker rebuilds the index by itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.service_processes import free_port


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait_for(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            found = check()
        except OSError:
            found = None
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {seconds:.0f} s")


@pytest.mark.slow
def test_a_running_site_rebuilds_an_index_that_does_not_open(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("S3_", "DATABASE_URL", "REDIS_URL", "PASSAGES_"))
    }
    env.update(PASSAGES_DATA_DIR=str(data), PASSAGES_INDEX_CHECK_INTERVAL="5")
    process = subprocess.Popen(
        [sys.executable, "-m", "webapp.cli", "run", "--demo", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"

    def found_cumin():
        status, body = _get(f"{base}/api/v1/search?q=cumin")
        return status == 200 and json.loads(body)["total"] >= 1

    try:
        _wait_for(found_cumin, 120, "the demo story becoming searchable")  # positive control
        index_dir = data / "index"
        broken = index_dir / "gen-1"  # as if a deploy left a generation of another format
        broken.mkdir()
        (broken / "SCHEMA_VERSION").write_text("1")
        (broken / "_MAIN_1.toc").write_bytes(b"\x00not a table of contents")
        (index_dir / "CURRENT").write_text("gen-1")

        status, body = _get(f"{base}/search?q=cumin")
        assert status == 503 and "en cours de reconstruction" in body.decode()
        status, body = _get(f"{base}/api/v1/search?q=cumin")
        if status == 503:  # unless the worker was already done (then the next check shows it)
            assert json.loads(body)["error"]["code"] == "search_unavailable"
            assert json.loads(body)["error"]["rebuilding"] is True
        assert _get(f"{base}/healthz")[0] == 200
        assert _get(f"{base}/")[0] == 200  # the rest of the site works

        _wait_for(found_cumin, 120, "the worker's automatic rebuild")
        assert (index_dir / "CURRENT").read_text().strip() != "gen-1"
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
