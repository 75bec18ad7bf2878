"""``passages run``: the site, its worker and the embedded Redis on one machine, supervised.

Why a supervisor: the first ``passages run`` started its worker once and never looked at it again
(after a Redis blip the site kept accepting stories nobody processed), and on SIGTERM or SIGKILL
it left the worker, RQ's scheduler and redis-server running; over restarts an orphan and a new
worker shared one queue. Here the main thread owns the children: it starts them, restarts one
that exits (with back-off), and on SIGINT/SIGTERM stops them all, worker first, Redis last.
Each child has the kernel kill it if this process dies (``workers.lifecycle``), even by SIGKILL;
a pid file and a lock in the data folder let the next start find and stop anything a previous
run left behind, and refuse a second ``passages run`` on the same data.

The web server and the outbox relay run as threads of this process (it never forks, so the relay
thread is safe here, see ``docs/architecture.md``). This module must never run jobs itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask

from workers.lifecycle import pdeathsig_preexec

log = logging.getLogger(__name__)

#: Seconds to wait before restarting a child that exited, by number of quick exits in a row.
BACKOFF = (1, 2, 5, 10, 30, 60)
#: A child that ran this long is healthy again: its next exit restarts it after BACKOFF[0].
HEALTHY_AFTER = 60.0


class AlreadyRunning(RuntimeError):
    """Another ``passages run`` holds this data folder."""


@dataclass
class ChildSpec:
    """How to start one supervised process."""

    name: str
    argv: list[str]
    env: dict[str, str]
    #: Signal the kernel sends the child if this process dies: SIGTERM lets Redis close its
    #: append-only file; SIGKILL for workers (their jobs are idempotent and get re-run).
    death_signal: int = signal.SIGKILL
    stop_timeout: float = 15.0
    ready: Callable[[], bool] | None = None


@dataclass
class Child:
    spec: ChildSpec
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    quick_exits: int = 0
    restart_at: float | None = None
    restarts: int = 0
    pids: list[int] = field(default_factory=list)

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.spec.argv,
            env=self.spec.env,
            preexec_fn=pdeathsig_preexec(self.spec.death_signal),
        )
        self.started_at = time.monotonic()
        self.restart_at = None
        self.pids.append(self.process.pid)
        log.info("started %s (pid %d)", self.spec.name, self.process.pid)

    def wait_ready(self, timeout: float = 30.0) -> None:
        if self.spec.ready is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.spec.name} exited at start (code {self.process.returncode})"
                )
            if self.spec.ready():
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.spec.name} did not become ready within {timeout:.0f} s")

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=self.spec.stop_timeout)
        except subprocess.TimeoutExpired:
            log.warning(
                "%s did not stop within %.0f s; killing it", self.spec.name, self.spec.stop_timeout
            )
            process.kill()
            process.wait(timeout=10)


class Supervisor:
    """Starts children in order, restarts those that exit, stops them in reverse order."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.children: list[Child] = []
        self._lock_file = None

    # --- one run per data folder, and no orphans from the last one ------------------------

    def acquire(self) -> None:
        """Take the data folder's run lock and stop what a previous run left behind."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.run_dir / "run.lock", "a+")  # noqa: SIM115 - held for the run's life
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.close()
            raise AlreadyRunning(
                f"another 'passages run' is using {self.run_dir.parent}; stop it first"
            ) from exc
        self._lock_file = handle
        stop_leftovers(self.pid_file)

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "children.json"

    def _write_pids(self) -> None:
        pids = [
            {"name": c.spec.name, "pid": c.process.pid}
            for c in self.children
            if c.process is not None and c.process.poll() is None
        ]
        tmp = self.pid_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"supervisor": os.getpid(), "children": pids}))
        tmp.replace(self.pid_file)

    def release(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.pid_file.unlink()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    # --- children ---------------------------------------------------------------------------

    def start(self, spec: ChildSpec) -> Child:
        child = Child(spec)
        child.start()
        self.children.append(child)
        self._write_pids()
        child.wait_ready()
        return child

    def poll(self) -> None:
        """Restart children that exited, after their back-off; call it often from one thread."""
        now = time.monotonic()
        changed = False
        for child in self.children:
            process = child.process
            if process is None:
                continue
            if child.restart_at is None and process.poll() is not None:
                ran = now - child.started_at
                child.quick_exits = 0 if ran >= HEALTHY_AFTER else child.quick_exits + 1
                delay = BACKOFF[min(child.quick_exits, len(BACKOFF) - 1)]
                log.warning(
                    "%s (pid %d) exited with code %s after %.0f s; restarting in %d s",
                    child.spec.name,
                    process.pid,
                    process.returncode,
                    ran,
                    delay,
                )
                child.restart_at = now + delay
            if child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                log.info("restarting %s (restart %d)", child.spec.name, child.restarts)
                child.start()
                changed = True
        if changed:
            self._write_pids()

    def stop_all(self) -> None:
        for child in reversed(self.children):
            child.restart_at = None
            try:
                child.stop()
            except Exception:  # noqa: BLE001 - stop the others whatever happens to one
                log.exception("could not stop %s", child.spec.name)
        self.release()


def stop_leftovers(pid_file: Path) -> list[int]:
    """Stop the children a previous run recorded, if they are still the processes it started.

    With the parent-death signal they should already be gone; this covers systems without it
    and processes started before it existed. A pid is only signalled if its command line is a
    Passages worker or redis-server (pids get reused).
    """
    try:
        recorded = json.loads(pid_file.read_text())
    except (FileNotFoundError, ValueError):
        return []
    stopped = []
    for entry in recorded.get("children", []):
        pid = int(entry.get("pid", 0))
        if pid <= 1 or not _is_ours(pid):
            continue
        log.warning("stopping %s (pid %d) left behind by a previous run", entry.get("name"), pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _is_ours(pid):
            time.sleep(0.1)
        if _is_ours(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        stopped.append(pid)
    with contextlib.suppress(FileNotFoundError):
        pid_file.unlink()
    return stopped


def _is_ours(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError, PermissionError):
        return False
    if state == "Z":
        return False
    return b"webapp.cli" in cmdline or b"redis-server" in cmdline or b"passages" in cmdline


# --- passages run ------------------------------------------------------------------------------


def _redis_ready(socket_path: Path) -> Callable[[], bool]:
    def ready() -> bool:
        import redis

        if not socket_path.exists():
            return False
        try:
            return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
        except redis.RedisError:
            return False

    return ready


def run_site(
    app: Flask,
    *,
    host: str,
    port: int,
    demo: bool,
    start_worker: bool,
    echo: Callable[[str], None],
    upgrade: Callable[[], None],
) -> None:
    """Serve the site with a supervised worker and Redis until SIGINT/SIGTERM."""
    from werkzeug.serving import make_server

    from webapp import broker
    from webapp.services import backends
    from workers import reconcile
    from workers.relay import RelayThread

    with app.app_context():
        settings = backends.settings()
    supervisor = Supervisor(settings.data_dir / "run")
    supervisor.acquire()
    stopping = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("stopping on signal %d", signum)
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    server = relay = None
    try:
        env = dict(os.environ)
        env["PASSAGES_DATA_DIR"] = str(settings.data_dir)
        env["DATABASE_URL"] = settings.database_url
        env["PASSAGES_QUEUE_PREFIX"] = settings.queue_prefix
        if settings.redis_url is None:
            argv, socket_path = broker.server_command(settings.data_dir)
            with contextlib.suppress(FileNotFoundError):
                socket_path.unlink()  # a killed server leaves its socket file behind
            supervisor.start(
                ChildSpec(
                    "redis",
                    argv,
                    env,
                    death_signal=signal.SIGTERM,
                    ready=_redis_ready(socket_path),
                )
            )
            env["REDIS_URL"] = broker.use_managed_server(settings.data_dir, socket_path)
        else:
            env["REDIS_URL"] = settings.redis_url
        with app.app_context():
            upgrade()
            logins, class_code = [], None
            if demo:
                from webapp.demo import demo_class_code, load_demo

                logins = load_demo()
                class_code = demo_class_code()
        # Nothing of ours is running yet: whatever is pending with no job alive is lost work.
        reconcile.reconcile_safely(app, grace_seconds=0, abandoned_too=settings.redis_url is None)
        if start_worker:
            worker = [sys.executable, "-m", "webapp.cli", "worker", "--queues"]
            supervisor.start(ChildSpec("worker", [*worker, "search,images,default"], env))
            # Converting a recording takes minutes: its own worker, so that it never holds up
            # a thumbnail, an index update or an e-mail.
            supervisor.start(ChildSpec("recordings-worker", [*worker, "recordings"], env))
        relay = RelayThread(app, settings.relay_interval)
        relay.start()
        server = make_server(host, port, app, threaded=True)
        threading.Thread(target=server.serve_forever, name="web", daemon=True).start()
        url = f"http://{host}:{port}/"
        echo("")
        echo(f"Passages is running at {url}")
        echo(f"Data folder: {settings.data_dir}")
        for role, email, password in logins:
            echo(f"  {role:<11} {email}  password: {password}")
        if class_code:
            echo(f"  students    join the demo class at {url}join with class code {class_code}")
        echo("Press Ctrl+C to stop.")
        while not stopping.wait(0.5):
            supervisor.poll()
    finally:
        if server is not None:
            server.shutdown()
        if relay is not None:
            relay.stop()
        supervisor.stop_all()
        log.info("stopped")
