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
import logging
import os
import re
import resource
import socket
from collections.abc import Callable, Sequence

from flask import Flask
from rq import Worker
from rq.job import Job
from rq.queue import Queue
from rq.timeouts import JobTimeoutException

from webapp.media import imaging
from webapp.services import backends
from workers import relay
from workers.context import use_app

log = logging.getLogger(__name__)

#: Queue order is priority order: index updates are quick and make a story findable, so they go
#: before image derivation, which can take seconds per photograph.
DEFAULT_PURPOSES = ("search", "images", "default")


#: Job function → function called with (first job argument, reason) when that job will not run
#: again (retries exhausted, or stopped by a resource limit), so its subject records the failure.
GIVE_UP_HANDLERS = {"workers.images.derive_media": "workers.images.give_up"}

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
    """A readable reason when a job failed on a resource limit (time, memory, killed), else None.

    Such a failure is not transient: the same input under the same limits fails the same way, so
    the job is not retried. Raising the limit and ``passages rederive`` is the operator's way out.
    """
    # Anywhere in the chain: a timeout inside a database call surfaces as the driver's error
    # "during handling of" the timeout, with the timeout further up the traceback.
    if _raised(exc_string, "JobTimeoutException"):
        return f"processing took longer than the {job.timeout} s a job may run"
    if _raised(exc_string, "MemoryError"):
        return f"processing needed more than the {memory_mb} MB of memory a job may use"
    if exc_string.startswith("Work-horse terminated unexpectedly"):
        return f"the job's process was killed while working ({exc_string.split(';')[1].strip()})"
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
        self, *args, job_memory_mb: int = 0, index_check: Callable[[], None] | None = None, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.job_memory_mb = job_memory_mb
        self.index_check = index_check

    def run_maintenance_tasks(self) -> None:
        """RQ's registry cleaning, plus (on the search worker) the check that the index opens.

        Why here: a damaged or foreign index must be rebuilt even when no update arrives to
        notice it; RQ's maintenance hook runs between dequeues in the worker's main loop. The
        check only queues the rebuild job: the work itself runs in a work horse, like any job.
        """
        super().run_maintenance_tasks()
        if self.index_check is not None:
            try:
                self.index_check()
            except Exception:
                log.exception("search index check failed; will try again")

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        limit_address_space(self.job_memory_mb)  # in the horse only: the worker stays unbounded
        super().main_work_horse(job, queue)

    def handle_job_failure(
        self,
        job: Job,
        queue: Queue,
        started_job_registry=None,
        exc_string: str = "",
        execution=None,
    ) -> None:
        reason = limit_reason(exc_string, job, self.job_memory_mb)
        if reason is not None:
            job.retries_left = 0
        if not job.should_retry or self._stopped_job_id == job.id:
            _give_up(job, reason or _last_error(exc_string, job))
        super().handle_job_failure(
            job,
            queue=queue,
            started_job_registry=started_job_registry,
            exc_string=exc_string,
            execution=execution,
        )


def _last_error(exc_string: str, job: Job) -> str:
    last_line = exc_string.strip().splitlines()[-1] if exc_string.strip() else "unknown error"
    return f"gave up after repeated failures: {last_line[:300]}"


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


def _worker_name() -> str:
    return f"passages-{socket.gethostname()}-{os.getpid()}"


def _build_worker(app: Flask, purposes: Sequence[str]) -> Worker:
    with app.app_context():
        connection = backends.redis_connection()
        queues = [backends.queue(p) for p in purposes]
        memory_mb = backends.settings().job_memory_mb
        interval = backends.settings().index_check_interval
    if "search" not in purposes:
        return PassagesWorker(
            queues, connection=connection, name=_worker_name(), job_memory_mb=memory_mb
        )
    # The search worker wakes at least every ``interval`` seconds (RQ's dequeue wait is its
    # ttl minus 15 s) so that its maintenance hook checks the index that often.
    return PassagesWorker(
        queues,
        connection=connection,
        name=_worker_name(),
        job_memory_mb=memory_mb,
        index_check=lambda: queue_rebuild_if_unreadable(app),
        maintenance_interval=interval,
        worker_ttl=interval + 15,
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
JOB_MODULES = ("workers.images", "workers.search", "storage")


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


def run_worker(app: Flask, purposes: Sequence[str] = DEFAULT_PURPOSES, burst: bool = False) -> None:
    """Process jobs; in burst mode also relay the outbox until no event and no job is left."""
    use_app(app)
    preload_for_jobs()
    imaging.NEVER_SWALLOW = (JobTimeoutException,)  # a time-out must read as a time-out
    if "search" in purposes:
        rebuild_index_if_outdated(app)
    if not burst:
        _build_worker(app, purposes).work(with_scheduler=True)
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
