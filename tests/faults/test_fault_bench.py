"""``bench/faults.py`` at a small size: the production shape survives its fault schedule.

PostgreSQL + redis-server + moto_server + gunicorn + two workers + relay; workers SIGKILLed five
times, Redis restarted twice, the S3 server frozen once, while clients submit with idempotency
keys. Nothing accepted may be lost or duplicated, nothing stuck, no orphan after collection.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def test_small_fault_bench_loses_nothing(tmp_path, postgres_server_url, redis_server, moto_server):
    # The fixtures above only prove the services are installed (or skip/fail as CI wants);
    # the bench starts its own throw-away ones.
    figures_file = tmp_path / "figures.json"
    result = subprocess.run(
        [
            sys.executable,
            "bench/faults.py",
            "--stories",
            "30",
            "--clients",
            "4",
            "--pace",
            "2",
            "--drain-timeout",
            "300",
            "--json",
            str(figures_file),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert figures_file.exists(), result.stdout + result.stderr
    figures = json.loads(figures_file.read_text())

    assert figures["accepted"] == 30, result.stdout
    assert figures["lost"] == 0
    assert figures["duplicated"] == 0
    assert figures["stuck"] == 0, result.stdout
    assert figures["orphans_after_collection"] == 0
    assert figures["drain_seconds_after_last_fault"] is not None
    assert result.returncode == 0, result.stdout + result.stderr
