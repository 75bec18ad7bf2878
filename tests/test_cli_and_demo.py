"""The command line a newcomer and an operator use: `passages run --demo`, users, tokens, db."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.service_processes import free_port


def _env(data_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("S3_", "DATABASE_URL", "REDIS_URL", "PASSAGES_"))
    }
    env["PASSAGES_DATA_DIR"] = str(data_dir)
    return env


def _passages(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "webapp.cli", *args],
        env=_env(data_dir),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.slow
def test_db_upgrade_user_and_token_commands_give_a_working_api_token(tmp_path):
    data = tmp_path / "data"
    assert _passages(data, "db", "upgrade").returncode == 0
    created = _passages(
        data,
        "create-user",
        "--email",
        "Archives@Example.org",
        "--role",
        "archivist",
        "--password",
        "a-long-password",
    )
    assert created.returncode == 0, created.stderr
    assert "created archivist archives@example.org" in created.stdout
    token_run = _passages(data, "create-token", "--email", "archives@example.org")
    assert token_run.returncode == 0, token_run.stderr
    token = token_run.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"psg_[A-Za-z0-9_-]{20,}", token)

    from tests.conftest import build_app

    app = build_app(data)
    response = app.test_client().post(
        "/api/v1/stories/999/review",
        json={"decision": "approve"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 404  # authenticated as an archivist; the story does not exist


@pytest.mark.slow
def test_cli_refuses_bad_input_with_a_message_not_a_traceback(tmp_path):
    data = tmp_path / "data"
    _passages(data, "db", "upgrade")
    short = _passages(
        data, "create-user", "--email", "a@b.org", "--role", "admin", "--password", "short"
    )
    assert short.returncode != 0 and "at least 8 characters" in short.stderr
    assert "Traceback" not in short.stderr
    unknown = _passages(data, "create-token", "--email", "nobody@example.org")
    assert unknown.returncode != 0 and "no user with e-mail" in unknown.stderr


@pytest.mark.slow
def test_run_demo_serves_the_site_with_demo_stories_and_prints_logins(tmp_path):
    """The README's first command, end to end: URL and logins printed, demo stories public,
    images derived and searchable by the embedded worker."""
    port = free_port()
    data = tmp_path / "data"
    process = subprocess.Popen(
        [sys.executable, "-m", "webapp.cli", "run", "--demo", "--port", str(port)],
        env=_env(data),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        results = None
        while time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                status, body = _get(f"{base}/api/v1/search?q=cumin")
            except OSError:
                continue
            if status == 200 and json.loads(body)["total"] >= 1:
                results = json.loads(body)
                break
        assert results is not None, "the demo story never became searchable"
        story_path = results["results"][0]["url"].split(str(port), 1)[1]
        status, body = _get(base + story_path)
        assert status == 200 and "Le marché de Vitry" in body.decode()
        status, body = _get(f"{base}/healthz")
        assert status == 200
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            story = json.loads(_get(f"{base}/api/v1/stories/{results['results'][0]['id']}")[1])
            if story["media"] and story["media"][0]["state"] == "ready":
                break
            time.sleep(0.5)
        assert story["media"][0]["state"] == "ready"
        thumb = story["media"][0]["derivatives"]["thumb"]
        status, _ = _get(thumb)
        assert status == 200
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
    assert f"Passages is running at http://127.0.0.1:{port}/" in output
    assert "archiviste@passages.example" in output and "password:" in output
    assert re.search(r"join the demo class at \S+join with class code [A-Z0-9]{6}", output)
