"""Drive a real ``passages run`` (embedded stack) from tests: start, wait, inspect, kill.

Fault tests need the real process tree — the site, its supervised worker (with its work horses
and RQ's scheduler) and redis-server — to kill parts of it and look at the process table after.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

from tests.conftest import REPO
from tests.service_processes import free_port


def env_for(data: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("S3_", "DATABASE_URL", "REDIS_URL", "PASSAGES_"))
    }
    env.update(PASSAGES_DATA_DIR=str(data), SECRET_KEY="test-secret", PASSAGES_LOG_LEVEL="INFO")
    env.update(extra)
    return env


def http(url: str, data: bytes | None = None, headers: dict | None = None, timeout: float = 10):
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


class RunningSite:
    """One ``passages run`` process with its log in a file."""

    def __init__(self, data: Path, **env: str) -> None:
        self.data = data
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = data.parent / f"run-{self.port}.log"
        data.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "webapp.cli", "run", "--port", str(self.port)],
            env=env_for(data, **env),
            cwd=REPO,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"passages run exited early:\n{self.output()}")
            try:
                if http(f"{self.base}/healthz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"passages run never answered:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def child_named(self, word: str) -> psutil.Process | None:
        for child in psutil.Process(self.process.pid).children():
            try:
                if word in " ".join(child.cmdline()):
                    return child
            except psutil.Error:  # exited (a zombie until its parent reaps it)
                continue
        return None

    def close(self) -> None:
        """Whatever the test did, leave no process behind."""
        for proc in [*self.descendants()]:
            _kill(proc.pid)
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.log.close()


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def alive(pids: list[int]) -> list[int]:
    """The pids among ``pids`` that are still running (zombies awaiting a reaper do not count)."""
    living = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                living.append(pid)
        except psutil.NoSuchProcess:
            pass
    return living


def wait_gone(pids: list[int], timeout: float = 20) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive(pids):
        time.sleep(0.2)
    return alive(pids)


def create_token(data: Path) -> str:
    env = env_for(data)
    for args in (
        [
            "create-user",
            "--email",
            "c@example.org",
            "--role",
            "contributor",
            "--password",
            "long-password-1",
        ],
        ["create-token", "--email", "c@example.org"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "webapp.cli", *args],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def submit(base: str, token: str, images: list[bytes], title: str = "Le marché") -> dict:
    boundary = "----passages-test-boundary"
    metadata = {
        "title": title,
        "body": "Ma grand-mère vendait des épices au marché de Vitry le samedi.",
        "language": "fr",
        "places": ["Vitry-sur-Seine"],
        "period": "1962",
        "themes": ["work"],
        "licence": "CC-BY-4.0",
        "consent": {"contributor": True},
    }
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'.encode()
        + json.dumps(metadata).encode()
        + b"\r\n"
    ]
    for n, image in enumerate(images):
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="images"; '
            f'filename="{n}.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
            + image
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    status, raw, headers = http(
        f"{base}/api/v1/stories",
        data=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
        timeout=60,
    )
    return {"status": status, "body": json.loads(raw or b"{}"), "headers": headers}
