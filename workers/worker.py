"""Worker entry point: an RQ worker over Passages' queues, built around the app.

RQ forks a work horse per job (so a job that leaks memory or is killed for its time limit cannot
take the worker down) and retries failed jobs per their ``Retry``. :class:`PassagesWorker` adds
the two things the stock worker lacks: a memory cap on each work horse, and a last word on a job
that will not run again (its media must end ``failed`` with a reason, never stay ``pending``).
The burst loop alternates outbox relaying and work until nothing is left — what tests and
one-off maintenance need. This module must never run job code in the worker process itself.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import os
import re
import resource
import signal
import socket
import time
from collections.abc import Callable, Sequence

from flask import Flask
from rq import Worker
from rq.job import Job
from rq.queue import Queue
from rq.timeouts import JobTimeoutException

from webapp import job_metrics, reasons
from webapp.media import imaging, recording
from webapp.services import backends
from workers import relay
from workers.context import use_app
from workers.lifecycle import die_with_parent

log = logging.getLogger(__name__)

#: Queue order is priority order: index updates are quick and make a story findable, so they go
#: before image derivation, which can take seconds per photograph; converting a recording can
#: take minutes, so it comes last (``passages run`` gives it a worker of its own, see
#: ``workers.supervisor``, so that it never holds up the others).
DEFAULT_PURPOSES = ("search", "images", "default", "recordings")


#: Job function → function called with (first job argument, reason) when that job will not run
#: again (retries exhausted, or stopped by a resource limit), so its subject records the failure.
GIVE_UP_HANDLERS = {
    "workers.images.derive_media": "workers.images.give_up",
    "workers.recordings.derive_recording": "workers.images.give_up",
    "workers.transfers.build_export": "workers.transfers.export_gave_up",
    "workers.transfers.run_import": "workers.transfers.import_gave_up",
    "workers.exhibitions.build_exhibition": "workers.exhibitions.exhibition_gave_up",
}

MIB = 1024 * 1024


def _address_space_in_use() -> int | None:
    """Virtual size of this process in bytes (Linux ``/proc``), or ``None`` elsewhere."""
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def limit_address_space(extra_mb: int) -> int | None:
    """Cap this process's address space at its current size plus ``extra_mb``; return the cap.

    The cap is relative because a Python worker with Flask, SQLAlchemy and Pillow already maps a
    few hundred megabytes of virtual memory (shared libraries, allocator arenas) before any job
    runs; an absolute figure would mean something different on every machine. Allocations past
    the cap fail, which Python and Pillow report as ``MemoryError``.
    """
    if extra_mb <= 0:
        return None
    in_use = _address_space_in_use() or 0
    cap = in_use + extra_mb * MIB
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    return cap


def limit_reason(exc_string: str, job: Job, memory_mb: int) -> str | None:
    """Why a job failed on a resource limit (time, memory, killed), else None.

    The reason is a code with its parameters (``webapp.reasons``): the give-up handler stores
    it, and each reader sees it in their language.

    Such a failure is not transient: the same input under the same limits fails the same way, so
    the job is not retried. Raising the limit and ``passages rederive`` is the operator's way out.
    """
    # Anywhere in the chain: a timeout inside a database call surfaces as the driver's error
    # "during handling of" the timeout, with the timeout further up the traceback.
    if _raised(exc_string, "JobTimeoutException"):
        return reasons.encode("job_timeout_after", seconds=job.timeout)
    if _raised(exc_string, "MemoryError"):
        return reasons.encode("job_memory", mb=memory_mb)
    if exc_string.startswith("Work-horse terminated unexpectedly"):
        return reasons.encode("job_killed", detail=exc_string.split(";")[1].strip())
    return None


def _raised(exc_string: str, name: str) -> bool:
    """Whether a formatted traceback (chains included) shows an exception of class ``name``."""
    return re.search(rf"^(?:[\w.]+\.)?{name}\b", exc_string, re.MULTILINE) is not None


class PassagesWorker(Worker):
    """RQ's forking worker with a memory cap per job and a last word on jobs that give up.

    Why the stock worker is not enough: RQ enforces a time limit (``SIGALRM`` in the horse, a kill
    from the parent a minute later) but no memory limit, so one crafted or huge image could make
    the kernel's OOM killer pick the worker, the database or the web server. And when a job fails
    for the last time RQ only moves it to its failed registry: the media it was deriving would
    stay ``pending`` for ever. Here the horse caps its own address space before running the job,
    failures on a limit are not retried, and the last failure of a job calls its give-up handler.
    """

    def __init__(
        self,
        *args,
        job_memory_mb: int = 0,
        transient_retry: tuple[int, int] = (3600, 7),
        metrics_prefix: str = "passages",
        maintenance_hook: Callable[[], None] | None = None,
        index_check: Callable[[], None] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.metrics_prefix = metrics_prefix
        self.maintenance_hook = maintenance_hook
        self.job_memory_mb = job_memory_mb
        self.transient_retry = transient_retry
        self.index_check = index_check

    def run_maintenance_tasks(self) -> None:
        """RQ's registry cleaning, then our hooks.

        The search worker checks that the index opens: a damaged or foreign index must be
        rebuilt even when no update arrives to notice it (the check only queues the rebuild
        job; the work runs in a work horse, like any job). Every long-running worker also
        re-makes the periodic schedule (reconciler, pruning) if Redis lost it: a restart without
        persistence would otherwise end their chain of jobs.
        """
        super().run_maintenance_tasks()
        for name, hook in (("index check", self.index_check), ("schedule", self.maintenance_hook)):
            if hook is None:
                continue
            try:
                hook()
            except Exception:  # noqa: BLE001 - maintenance must never stop the worker
                log.exception("worker maintenance (%s) failed; will try again", name)

    def handle_warm_shutdown_request(self) -> None:
        """Remember that the stop was asked for (RQ's loop also ends on Redis errors)."""
        self.stop_was_requested = True
        super().handle_warm_shutdown_request()

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        limit_address_space(self.job_memory_mb)  # in the horse only: the worker stays unbounded
        super().main_work_horse(job, queue)

    def perform_job(self, job: Job, queue: Queue, execution) -> bool:
        """Run the job (in the horse) and record how long it took, for ``/metrics``."""
        started = time.monotonic()
        try:
            return super().perform_job(job, queue, execution)
        finally:
            job_metrics.record_duration(
                self.connection, self.metrics_prefix, job.func_name, time.monotonic() - started
            )

    def handle_job_failure(
        self,
        job: Job,
        queue: Queue,
        started_job_registry=None,
        exc_string: str = "",
        execution=None,
    ) -> None:
        reason = limit_reason(exc_string, job, self.job_memory_mb)
        stopped = self._stopped_job_id == job.id
        if reason is not None:
            job.retries_left = 0
        elif not job.should_retry and not stopped:
            keep_retrying_if_transient(job, exc_string, self.transient_retry)
        if not job.should_retry or stopped:
            _give_up(job, reason or _last_error(exc_string, job))
        job_metrics.record_failure(self.connection, self.metrics_prefix, job.func_name)
        # RQ keeps no error for a job it retries: the last one is kept with the job, so
        # `passages jobs` and /admin/jobs can say why a job is waiting for its next try.
        job.meta["last_error"] = _last_line(exc_string)
        super().handle_job_failure(
            job,
            queue=queue,
            started_job_registry=started_job_registry,
            exc_string=exc_string,
            execution=execution,
        )


#: Exceptions that say a service was unreachable, not that the job's input is bad: storage,
#: Redis or the database down, a lock not free in time. Such a job is worth trying again later.
TRANSIENT_ERRORS = (
    "StorageUnavailable",
    "ConnectionError",
    "ConnectionRefusedError",
    "TimeoutError",
    "OperationalError",
    "InterfaceError",
    "IndexBusy",
)


def is_transient(exc_string: str) -> bool:
    """Whether the job failed because a service was unreachable (judged on its last exception)."""
    lines = [line for line in exc_string.strip().splitlines() if line and not line[0].isspace()]
    last = lines[-1] if lines else ""
    return any(re.match(rf"^(?:[\w.]+\.)?{name}\b", last) for name in TRANSIENT_ERRORS)


def keep_retrying_if_transient(job: Job, exc_string: str, policy: tuple[int, int]) -> bool:
    """Give a job whose quick retries are spent one more try in ``interval`` seconds, if it
    failed on an outage and was first queued less than ``days`` ago; return whether it will.

    Why: the quick schedule (2 s … 10 min, about 13 minutes in all) is right for a blip, but
    a photo must not end ``failed`` for good because the object store was down for an hour.
    Permanent failures (a bad image) never raise, so they never get here.
    """
    interval, days = policy
    if interval <= 0 or not is_transient(exc_string):
        return False
    first = job.created_at or job.enqueued_at
    if first is not None and time.time() - first.timestamp() > days * 86400:
        return False
    job.retries_left = 1
    job.retry_intervals = [interval]
    job.meta["long_retries"] = int(job.meta.get("long_retries", 0)) + 1
    log.warning(
        "job %s failed on an outage after its quick retries; trying again in %d s (long retry %d)",
        job.id,
        interval,
        job.meta["long_retries"],
    )
    return True


def _last_line(exc_string: str) -> str:
    return exc_string.strip().splitlines()[-1][:300] if exc_string.strip() else "unknown error"


def _last_error(exc_string: str, job: Job) -> str:
    return reasons.encode("gave_up", detail=_last_line(exc_string))


def _give_up(job: Job, reason: str) -> None:
    """Call the job's give-up handler; a failure here is logged, never stops the worker."""
    try:
        target = GIVE_UP_HANDLERS.get(job.func_name)
        if target is None or not job.args:
            return
        module, _, name = target.rpartition(".")
        handler: Callable[..., object] = getattr(importlib.import_module(module), name)
        handler(job.args[0], reason)
    except Exception:
        log.exception("job %s: could not record that it gave up (%s)", job.id, reason)


_incarnation = itertools.count(1)


def _worker_name() -> str:
    """Unique per worker object: after a Redis outage the old name may still look alive."""
    return f"passages-{socket.gethostname()}-{os.getpid()}-{next(_incarnation)}"


def _build_worker(app: Flask, purposes: Sequence[str], periodic: bool = False) -> Worker:
    with app.app_context():
        connection = backends.redis_connection()
        queues = [backends.queue(p) for p in purposes]
        settings = backends.settings()
        memory_mb = settings.job_memory_mb
        transient = (settings.transient_retry_interval, settings.transient_retry_days)
        prefix = settings.queue_prefix
        maintenance_interval = min(600, max(10, settings.reconcile_interval))
        interval = settings.index_check_interval

    def keep_schedule() -> None:
        from workers import reconcile

        with app.app_context():
            reconcile.ensure_scheduled()

    options: dict = {}
    if "search" in purposes:
        # The search worker wakes at least every ``interval`` seconds (RQ's dequeue wait is its
        # ttl minus 15 s) so that its maintenance hook checks the index that often.
        options = dict(
            index_check=lambda: queue_rebuild_if_unreadable(app),
            worker_ttl=interval + 15,
        )
        maintenance_interval = min(maintenance_interval, interval)
    return PassagesWorker(
        queues,
        connection=connection,
        name=_worker_name(),
        job_memory_mb=memory_mb,
        transient_retry=transient,
        metrics_prefix=prefix,
        maintenance_hook=keep_schedule if periodic else None,
        maintenance_interval=maintenance_interval,
        **options,
    )


#: Job id of the automatic rebuild: at most one is waiting at any time.
REBUILD_JOB = "search-rebuild"


def queue_rebuild_if_unreadable(app: Flask) -> bool:
    """Queue ``workers.search.rebuild_if_unreadable`` when the served index does not open.

    Returns whether a rebuild was queued. The job checks again before rebuilding, so a
    spurious or repeated queueing costs one check.
    """
    with app.app_context():
        reason = backends.search_index().unreadable_reason()
        if reason is None:
            return False
        job_id = f"{backends.settings().queue_prefix}-{REBUILD_JOB}"
        connection = backends.redis_connection()
        if Job.exists(job_id, connection=connection):
            job = Job.fetch(job_id, connection=connection)
            if not (job.is_finished or job.is_failed or job.is_canceled):
                return False  # already waiting or running
            job.delete()
        log.warning("search index unusable (%s): queueing a rebuild", reason)
        backends.queue("search").enqueue_call(
            "workers.search.rebuild_if_unreadable", job_id=job_id, timeout=3600
        )
        return True


def rebuild_index_if_outdated(app: Flask) -> bool:
    """Rebuild the search index when it was built by another index-schema version.

    Only the worker that serves the search queue calls this, so the index keeps a single writer;
    search keeps serving the old generation until the new one is swapped in.
    """
    from workers.search import rebuild_index

    with app.app_context():
        outdated = backends.search_index().needs_rebuild()
    if outdated:
        log.info("search index schema changed: rebuilding from the database")
        rebuild_index()
    return outdated


#: Modules jobs use (job functions, storage backends), imported once in the worker so that each
#: forked work horse inherits them instead of importing them again for every job.
JOB_MODULES = ("workers.images", "workers.recordings", "workers.search", "storage")


def preload_for_jobs() -> None:
    """Do once in the worker what every work horse would otherwise redo after its fork.

    Importing the job modules and the storage backends (the MinIO client alone takes ~0.2 s),
    loading Pillow's format plugins and configuring the ORM mappers: done per horse, that was
    about half of a small image's job time.
    """
    from PIL import Image
    from sqlalchemy.orm import configure_mappers

    for module in JOB_MODULES:
        importlib.import_module(module)
    Image.init()
    configure_mappers()


class StopFlag:
    """SIGTERM/SIGINT received while no RQ worker is running (waiting for Redis)."""

    def __init__(self) -> None:
        self.set = False

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, _frame: object) -> None:
        log.info("worker: stop requested (signal %d)", signum)
        self.set = True


def wait_for_redis(app: Flask, stop: StopFlag, max_wait: float = 30.0) -> bool:
    """Block until Redis answers (backing off up to ``max_wait`` s); False if told to stop.

    Says once that Redis is unreachable and once that it is back, not at every attempt.
    """
    delay, since = 0.5, None
    while not stop.set:
        try:
            with app.app_context():
                backends.redis_connection().ping()
            if since is not None:
                log.warning("worker: Redis reachable again after %.0f s", time.monotonic() - since)
            return True
        except Exception as exc:  # noqa: BLE001 - any failure to reach Redis means "wait"
            if since is None:
                since = time.monotonic()
                log.warning("worker: Redis unreachable (%s); waiting to reconnect", exc)
        deadline = time.monotonic() + delay
        while not stop.set and time.monotonic() < deadline:
            time.sleep(0.1)
        delay = min(delay * 2, max_wait)
    return False


def serve_until_stopped(app: Flask, purposes: Sequence[str]) -> None:
    """Work until SIGTERM/SIGINT, surviving Redis outages.

    Why not just ``Worker.work()``: RQ's loop quits on the first Redis error outside its dequeue
    wait (a job ending while Redis is down, a heartbeat), so a Redis restart left the site
    accepting stories that no process would ever work on. Here a worker that quits without
    being asked to stop is replaced, once Redis answers again, by a new one (a new name: the
    old one may still look registered). Every process this worker forks (work horses, RQ's
    scheduler) is killed by the kernel if the worker dies, so none is ever left behind.
    """
    from workers import reconcile

    os.register_at_fork(after_in_child=lambda: die_with_parent(signal.SIGKILL))
    stop = StopFlag()
    stop.install()
    first = True
    while wait_for_redis(app, stop):
        try:
            with app.app_context():
                reconcile.ensure_scheduled()
        except Exception:  # noqa: BLE001 - a missing schedule is re-made by the next start
            log.exception("worker: could not schedule the periodic passes")
        if first:  # pick up what a crash or a restored backup left behind
            reconcile.reconcile_safely(app)
            first = False
        worker = _build_worker(app, purposes, periodic=True)
        try:
            worker.work(with_scheduler=True)
        except Exception:  # noqa: BLE001 - logged; the loop decides whether to go on
            log.exception("worker: stopped by an error")
        if getattr(worker, "stop_was_requested", False) or stop.set:
            return
        stop.install()  # RQ's handlers belong to the worker that just ended
        log.warning("worker: RQ's loop ended without a stop request; starting a new worker")


def run_worker(app: Flask, purposes: Sequence[str] = DEFAULT_PURPOSES, burst: bool = False) -> None:
    """Process jobs; in burst mode also relay the outbox until no event and no job is left."""
    use_app(app)
    preload_for_jobs()
    imaging.NEVER_SWALLOW = (JobTimeoutException,)  # a time-out must read as a time-out
    recording.NEVER_SWALLOW = (JobTimeoutException,)
    if "search" in purposes:
        rebuild_index_if_outdated(app)
    if not burst:
        serve_until_stopped(app, purposes)
        return
    for _ in range(1000):  # bounded: a job that keeps emitting events cannot loop forever
        with app.app_context():
            while relay.relay_once():
                pass
        _build_worker(app, purposes).work(burst=True)
        with app.app_context():
            idle = relay.pending_count() == 0 and all(
                backends.queue(p).count == 0 for p in purposes
            )
            from webapp.extensions import db

            db.session.remove()
        if idle:
            return
    log.warning("burst worker stopped after 1000 rounds with work still arriving")
