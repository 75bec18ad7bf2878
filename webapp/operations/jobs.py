"""What the background machinery is doing and what it failed to do, for the people who run it.

Read side: RQ's registries per queue (queued, started, scheduled, deferred, failed), the
outbox backlog (events not yet handed to Redis, the oldest one's age, those whose last attempt
failed) and the media that ended ``failed`` with their reason. Write side: put failed jobs back
on their queue, purge failed jobs, and ask for failed media to be derived again — the last one
through the outbox (``media.rederive_requested``) in the caller's unit of work, with an audit
entry, like every other user action.

``passages jobs`` (:mod:`webapp.operations.jobs_cli`), the admin page (``/admin/jobs``) and
``/metrics`` all read through here, so the three always agree. Nothing here runs a job, and
nothing here commits: a Redis that cannot be reached is :class:`QueuesUnavailable`, never a
crash nor an empty list that would read as "all is well".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import redis
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import (
    BaseRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)

from webapp.errors import PassagesError
from webapp.extensions import db
from webapp.models import MediaAsset, MediaState, OutboxEvent, Story, utcnow
from webapp.operations import long_jobs
from webapp.services import audit, backends, outbox

if TYPE_CHECKING:
    from rq import Queue

    from webapp.models import User
    from webapp.unit_of_work import UnitOfWork

#: Queue purposes, as ``webapp.broker.queue_name`` suffixes them (``<prefix>-images``...).
PURPOSES = ("images", "search", "default", "recordings")
#: Where RQ keeps a job, in the order a job moves through them (``queued`` is the queue itself).
REGISTRIES = ("queued", "deferred", "scheduled", "started", "failed")
#: At most this many jobs are read per registry for a listing (the counts are always exact).
LIST_LIMIT = 200
#: Lines of a failed job's traceback ``passages jobs show`` prints.
TRACEBACK_TAIL = 15


class JobsError(PassagesError):
    """A refusal about one job or image; ``subject`` names it (pages word the message)."""

    def __init__(self, message: str, subject: str | int = "", **options) -> None:
        super().__init__(message, **options)
        self.subject = subject


class QueuesUnavailable(JobsError):
    """Redis cannot be read: nothing can be said about jobs (which is not "no jobs")."""

    status = 503
    code = "queues_unavailable"


class UnknownJob(JobsError):
    """No job with this id in Redis (never existed, purged, or expired)."""

    status = 404
    code = "unknown_job"


class NotRetryable(JobsError):
    """The job exists but is not failed: it is queued, running, scheduled or done."""

    status = 409
    code = "job_not_failed"


class NotFailedMedia(JobsError):
    """An image asked to be derived again is not failed (any more, or never was)."""

    status = 409
    code = "media_not_failed"


@dataclass(frozen=True)
class JobSummary:
    """One job as people see it: where it is, what it runs, and the last line of its error."""

    id: str
    queue: str
    registry: str
    function: str
    arguments: str
    description: str
    status: str
    created_at: datetime | None
    enqueued_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    error: str | None

    @property
    def when(self) -> datetime | None:
        """The most recent moment the job did something (for sorting and ages)."""
        return self.ended_at or self.started_at or self.enqueued_at or self.created_at


@dataclass(frozen=True)
class JobDetail:
    summary: JobSummary
    traceback: str | None
    retries_left: int | None
    meta: dict
    timeout: int | None


@dataclass(frozen=True)
class OutboxBacklog:
    """Events committed but not yet handed to Redis (the relay's backlog)."""

    unrelayed: int
    oldest_created_at: datetime | None
    with_errors: list[OutboxEvent]

    def oldest_age_seconds(self, now: datetime | None = None) -> float:
        if self.oldest_created_at is None:
            return 0.0
        return max(0.0, ((now or utcnow()) - _aware(self.oldest_created_at)).total_seconds())


@dataclass(frozen=True)
class FailedMedia:
    media_id: int
    story_id: int
    story_title: str
    filename: str
    reason: str
    failed_at: datetime | None


# --- reading -------------------------------------------------------------------------------


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _registry(queue: Queue, name: str) -> BaseRegistry | None:
    connection = queue.connection
    return {
        "deferred": lambda: DeferredJobRegistry(queue=queue),
        "scheduled": lambda: ScheduledJobRegistry(queue=queue),
        "started": lambda: StartedJobRegistry(queue.name, connection=connection),
        "failed": lambda: FailedJobRegistry(queue=queue),
    }.get(name, lambda: None)()


def _job_ids(queue: Queue, registry: str) -> list[str]:
    if registry == "queued":
        return queue.get_job_ids()
    found = _registry(queue, registry)
    return found.get_job_ids(cleanup=False) if found is not None else []


def _guard(action):
    """Run ``action``; a Redis that cannot be reached becomes :class:`QueuesUnavailable`."""
    try:
        return action()
    except (redis.RedisError, OSError) as exc:
        raise QueuesUnavailable(f"Redis cannot be reached ({exc}); jobs cannot be read") from exc


def _choose(names: Iterable[str] | None, allowed: Sequence[str], what: str) -> list[str]:
    chosen = list(names) if names else list(allowed)
    unknown = [name for name in chosen if name not in allowed]
    if unknown:
        raise PassagesError(
            f"unknown {what} {unknown[0]!r}: choose one of {', '.join(allowed)}", field=what
        )
    return chosen


def registry_counts() -> dict[str, dict[str, int]]:
    """queue purpose → registry → number of jobs.

    Read-only on purpose (no RQ clean-up): cleaning the started registry fails the jobs of dead
    workers, which is the workers' business (their give-up handlers must run), not a page's or a
    scrape's. Entries past their expiry may be counted until a worker's maintenance drops them.
    """

    def read() -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for purpose in PURPOSES:
            queue = backends.queue(purpose)
            counts[purpose] = {"queued": queue.count}
            for name in REGISTRIES[1:]:
                counts[purpose][name] = _registry(queue, name).get_job_count(cleanup=False)
        return counts

    return _guard(read)


#: The hash ``workers.reconcile`` keeps its last pass's figures in (the web app never imports
#: the workers; tests/jobs/test_metrics.py runs a real pass to keep the two in step).
RECONCILER_KEY = "{prefix}:reconciler"


def reconciler_figures() -> dict[str, float]:
    """The reconciler's last pass (``last_run``, ``stuck_media``, ``stale_index``,
    ``unfinished_erasures``) and running totals (``<kind>_total``); empty before any pass."""

    def read() -> dict[str, float]:
        key = RECONCILER_KEY.format(prefix=backends.settings().queue_prefix)
        raw = backends.redis_connection().hgetall(key)
        return {name.decode(): float(value) for name, value in raw.items()}

    return _guard(read)


def _error_line(job: Job) -> tuple[str | None, str | None]:
    """(last line, whole traceback) of the job's latest failure, if its latest run failed."""
    from rq.results import Result

    result = job.latest_result()
    if result is None or result.type != Result.Type.FAILED or not result.exc_string:
        # A job RQ retries keeps no error; the worker (workers.worker) keeps its last line.
        last = (job.meta or {}).get("last_error")
        return (str(last)[:500], None) if last else (None, None)
    text = result.exc_string.strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return (lines[-1][:500] if lines else None), text


def _status(job: Job, refresh: bool = True) -> str:
    status = job.get_status(refresh=refresh)
    return getattr(status, "value", status) or ""


def _summary(job: Job, purpose: str, registry: str) -> JobSummary:
    try:
        arguments = ", ".join(repr(a) for a in job.args or ())
        function = job.func_name or "?"
    except Exception:  # noqa: BLE001 - a job whose payload cannot be read is still listed
        arguments, function = "(unreadable)", "(unreadable)"
    error, _ = _error_line(job) if registry in ("failed", "scheduled") else (None, None)
    return JobSummary(
        id=job.id,
        queue=purpose,
        registry=registry,
        function=function,
        arguments=arguments,
        description=job.description or "",
        status=_status(job, refresh=False),
        created_at=job.created_at,
        enqueued_at=job.enqueued_at,
        started_at=job.started_at,
        ended_at=job.ended_at,
        error=error,
    )


def list_jobs(
    purposes: Iterable[str] | None = None,
    registries: Iterable[str] | None = None,
    limit: int = LIST_LIMIT,
) -> list[JobSummary]:
    """Jobs of these queues and registries (all by default), newest activity first."""
    chosen_queues = _choose(purposes, PURPOSES, "queue")
    chosen_registries = _choose(registries, REGISTRIES, "registry")

    def read() -> list[JobSummary]:
        jobs: list[JobSummary] = []
        for purpose in chosen_queues:
            queue = backends.queue(purpose)
            for name in chosen_registries:
                ids = _job_ids(queue, name)[:limit]
                for job in Job.fetch_many(ids, connection=queue.connection):
                    if job is not None:
                        jobs.append(_summary(job, purpose, name))
        epoch = datetime.min.replace(tzinfo=UTC)
        return sorted(jobs, key=lambda j: _aware(j.when) if j.when else epoch, reverse=True)

    return _guard(read)


def _locate(job: Job) -> tuple[str, str]:
    """(queue purpose, registry) where RQ holds ``job`` now."""
    purpose = next((p for p in PURPOSES if backends.queue(p).name == job.origin), job.origin or "?")
    status = _status(job)
    registry = {"stopped": "failed"}.get(status, status)
    return purpose, registry


def _fetch(job_id: str) -> Job:
    try:
        return Job.fetch(job_id, connection=backends.redis_connection())
    except (NoSuchJobError, ValueError, TypeError) as exc:  # RQ refuses malformed ids
        raise UnknownJob(
            f"no job with id {job_id!r} (it never existed, was purged, or its record expired)",
            subject=job_id,
        ) from exc


def job_detail(job_id: str) -> JobDetail:
    """Everything about one job; :class:`UnknownJob` when Redis does not know it."""

    def read() -> JobDetail:
        job = _fetch(job_id)
        purpose, registry = _locate(job)
        _, traceback = _error_line(job)
        return JobDetail(
            summary=_summary(job, purpose, registry),
            traceback=traceback,
            retries_left=job.retries_left,
            meta=dict(job.meta or {}),
            timeout=job.timeout,
        )

    return _guard(read)


def traceback_tail(text: str | None, lines: int = TRACEBACK_TAIL) -> str:
    return "\n".join((text or "").splitlines()[-lines:])


# --- acting on jobs ------------------------------------------------------------------------


def retry_job(job_id: str) -> JobSummary:
    """Put one failed job back on its queue (same id, so the relay's bookkeeping still holds).

    The job runs once more; jobs are idempotent, so a retry of work done meanwhile is harmless.
    """

    def act() -> JobSummary:
        job = _fetch(job_id)
        purpose, registry = _locate(job)
        if registry != "failed":
            raise NotRetryable(
                f"job {job_id} is {registry}, not failed: there is nothing to retry", subject=job_id
            )
        try:
            FailedJobRegistry(queue=backends.queue(purpose)).requeue(job)
        except InvalidJobOperation as exc:  # another admin retried it a moment ago
            raise NotRetryable(
                f"job {job_id} is no longer in the failed registry", subject=job_id
            ) from exc
        return _summary(job, purpose, "queued")

    return _guard(act)


def retry_all_failed(purposes: Iterable[str] | None = None) -> int:
    """Put every failed job of these queues back on its queue; return how many."""
    chosen = _choose(purposes, PURPOSES, "queue")

    def act() -> int:
        retried = 0
        for purpose in chosen:
            registry = FailedJobRegistry(queue=backends.queue(purpose))
            for job_id in registry.get_job_ids():
                try:
                    registry.requeue(job_id)
                    retried += 1
                except (InvalidJobOperation, NoSuchJobError):
                    registry.remove(job_id)  # an id whose job expired: nothing to run
        return retried

    return _guard(act)


def purge_failed(older_than: timedelta | None = None, now: datetime | None = None) -> int:
    """Delete failed jobs (their record and their error) that failed more than ``older_than``
    ago, or all of them; return how many. Used by hand and by the hourly pruning."""
    cutoff = (now or utcnow()) - older_than if older_than is not None else None

    def act() -> int:
        removed = 0
        for purpose in PURPOSES:
            queue = backends.queue(purpose)
            registry = FailedJobRegistry(queue=queue)
            registry.cleanup()  # entries past their failure_ttl
            ids = registry.get_job_ids()
            for job_id, job in zip(
                ids, Job.fetch_many(ids, connection=queue.connection), strict=True
            ):
                if job is None:
                    registry.remove(job_id)  # its record expired already
                    continue
                when = job.ended_at or job.last_heartbeat or job.enqueued_at or job.created_at
                if cutoff is not None and when is not None and _aware(when) >= cutoff:
                    continue
                registry.remove(job, delete_job=True)
                removed += 1
        return removed

    return _guard(act)


# --- the outbox and failed media -----------------------------------------------------------


def outbox_backlog(error_limit: int = 50) -> OutboxBacklog:
    """Unrelayed events: how many, the oldest's creation time, the latest that failed to relay."""
    waiting = OutboxEvent.relayed_at.is_(None)
    count, oldest = db.session.execute(
        db.select(db.func.count(OutboxEvent.id), db.func.min(OutboxEvent.created_at)).where(waiting)
    ).one()
    errors = db.session.scalars(
        db.select(OutboxEvent)
        .where(waiting, OutboxEvent.last_error.is_not(None))
        .order_by(OutboxEvent.id)
        .limit(error_limit)
    ).all()
    return OutboxBacklog(unrelayed=count, oldest_created_at=oldest, with_errors=list(errors))


def failed_media(limit: int = 200) -> list[FailedMedia]:
    """Images whose derivation failed for good, most recent first, with the reason recorded."""
    rows = db.session.execute(
        db.select(MediaAsset, Story.title)
        .join(Story, Story.id == MediaAsset.story_id)
        .where(MediaAsset.state == MediaState.FAILED.value)
        .order_by(MediaAsset.updated_at.desc(), MediaAsset.id.desc())
        .limit(limit)
    )
    return [
        FailedMedia(
            media_id=media.id,
            story_id=media.story_id,
            story_title=title,
            filename=media.original_filename,
            reason=media.failure_reason or "",
            failed_at=media.updated_at,
        )
        for media, title in rows
    ]


def relay_error_count() -> int:
    """Waiting events whose last relay attempt failed."""
    return db.session.scalar(
        db.select(db.func.count(OutboxEvent.id)).where(
            OutboxEvent.relayed_at.is_(None), OutboxEvent.last_error.is_not(None)
        )
    )


def failed_media_count() -> int:
    return db.session.scalar(
        db.select(db.func.count(MediaAsset.id)).where(MediaAsset.state == MediaState.FAILED.value)
    )


def rederive_failed_media(
    uow: UnitOfWork, actor: User | None, media_ids: Sequence[int] | None
) -> int:
    """Ask for failed images to be derived again; ``None`` means every failed image.

    Each image goes back to ``pending`` (its old reason is kept in the audit entry) and one
    ``media.rederive_requested`` event per story is written in the caller's unit of work, so the
    request and the state change commit together or not at all. Returns how many images.
    Only failed images are touched: an id that is not failed (any more) is refused by name.
    """
    query = db.select(MediaAsset).where(MediaAsset.state == MediaState.FAILED.value)
    if media_ids is not None:
        wanted = sorted(set(media_ids))
        query = query.where(MediaAsset.id.in_(wanted))
    chosen = db.session.scalars(query.order_by(MediaAsset.story_id, MediaAsset.id)).all()
    if media_ids is not None:
        missing = sorted(set(wanted) - {m.id for m in chosen})
        if missing:
            raise NotFailedMedia(
                f"image {missing[0]} is not a failed image (any more)", subject=missing[0]
            )
    by_story: dict[int, list[MediaAsset]] = {}
    for media in chosen:
        by_story.setdefault(media.story_id, []).append(media)
    events = []
    for story_id, items in by_story.items():
        for media in items:
            audit.record(
                "media.rederive_requested",
                "media",
                media.id,
                actor=actor,
                note=media.failure_reason,
                details={"story_id": story_id, "previous_state": media.state},
            )
            media.state = MediaState.PENDING.value
            media.failure_reason = None
        events.append(
            outbox.emit(
                "media.rederive_requested",
                {"story_id": story_id, "media_ids": [m.id for m in items]},
            )
        )
    uow.flush()
    event_ids = [event.id for event in events]
    uow.after_commit(lambda: long_jobs.remember_rederive(event_ids))  # its progress, page-side
    return len(chosen)


def work_in_progress() -> dict[str, int | str | None]:
    """What is still to do, for a page that polls until the work ends.

    ``pending_media`` images wait for their derivatives (a re-derive puts them back there),
    ``active_jobs`` are queued or running on any queue (reindexing, exports, imports, images;
    ``None`` when Redis cannot be read), ``unrelayed`` events wait in the outbox. ``outstanding``
    adds them up and ``state`` is ``working`` until it is zero, then ``idle``.
    """
    pending = db.session.scalar(
        db.select(db.func.count(MediaAsset.id)).where(MediaAsset.state == MediaState.PENDING.value)
    )
    unrelayed = db.session.scalar(
        db.select(db.func.count(OutboxEvent.id)).where(OutboxEvent.relayed_at.is_(None))
    )
    try:
        counts = registry_counts()
        active: int | None = sum(c["queued"] + c["started"] for c in counts.values())
    except QueuesUnavailable:
        active = None
    outstanding = (pending or 0) + (unrelayed or 0) + (active or 0)
    return {
        "state": "working" if outstanding else "idle",
        "pending_media": pending or 0,
        "active_jobs": active,
        "unrelayed": unrelayed or 0,
        "outstanding": outstanding,
    }
