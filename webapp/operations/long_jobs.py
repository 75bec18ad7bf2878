"""The long jobs people start and wait for, each with how far it has got and how it ended.

A rebuild of the search index, a re-derivation of images, an export, an import, an exhibition:
each is listed while it runs and for a day after it ended (:data:`KEEP_ENDED`), with ``done`` of
``total`` steps, its percentage and its end (done or failed, and why). Exports, imports and
exhibitions keep their progress in their own rows. The two jobs that have no row keep it in
Redis, written by whoever runs them: the index rebuild (``workers.search``, through
:func:`counting`) in the hash :data:`REINDEX_KEY`, a re-derivation request (``workers.images``
and :func:`webapp.operations.jobs.rederive_failed_media`, through :func:`remember_rederive`)
the ids of its outbox events in :data:`REDERIVE_KEY`, whose jobs say how far it is
(:func:`rederive_progress`). The jobs page and its polled JSON read :func:`long_jobs`; nothing
here starts, stops or commits anything, and a Redis that does not answer only leaves out the
two jobs it holds.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import redis

from webapp import reasons
from webapp.extensions import db
from webapp.models import (
    Collection,
    Exhibition,
    ExportRun,
    ImportRun,
    MediaAsset,
    MediaState,
    OutboxEvent,
    utcnow,
)
from webapp.services import backends

log = logging.getLogger(__name__)

#: How long an ended job stays on the page, so whoever started it sees how it ended.
KEEP_ENDED = timedelta(hours=24)
#: Jobs of each kind listed at most (the newest first).
LIST_LIMIT = 10
#: The index rebuild's figures: ``done``, ``total``, ``started``, ``updated`` (its last report),
#: ``ended`` (epoch seconds), ``state`` (``running``, ``done``, ``failed``) and ``reason`` (a
#: stored failure code, ``webapp.reasons``).
REINDEX_KEY = "{prefix}:progress:reindex"
#: The last re-derivation request: ``{"events": [...], "started": epoch seconds}`` as JSON.
REDERIVE_KEY = "{prefix}:progress:rederive"
#: Seconds between two writes of the rebuild's figures (a rebuild reads thousands of stories).
REPORT_EVERY = 1.0
#: A rebuild whose last report is older than this stopped answering: its process was killed
#: (SIGKILL, a power cut, RQ's hard time limit) before it could say how it ended, so it is
#: shown failed rather than "in progress" for ever. Reports come every :data:`REPORT_EVERY`
#: between stories, but the rebuild writes a segment of 8,000 stories (and at the end swaps
#: the index) without reporting, which takes seconds on a busy machine: a few times that
#: longest silence, not a few seconds.
STOPPED_AFTER = 120.0
#: How long the rebuild's figures outlive their last write (one that died keeps no key).
KEEP_FIGURES = KEEP_ENDED * 2

#: A job's state, whatever its kind: what the page says and when it stops polling.
RUNNING, WAITING, DONE, FAILED = "running", "waiting", "done", "failed"
ENDED = frozenset({DONE, FAILED})

_EXPORT = {"requested": WAITING, "running": RUNNING, "ready": DONE, "failed": FAILED}
_IMPORT = {
    "uploaded": WAITING,
    "checking": RUNNING,
    "invalid": FAILED,
    "checked": DONE,
    "importing": RUNNING,
    "done": DONE,
    "failed": FAILED,
}
#: An import that was checked waits for a person (to import it, or to correct the file).
_CHECKED = ("invalid", "checked")
_EXHIBITION = {"requested": WAITING, "building": RUNNING, "ready": DONE, "failed": FAILED}

T = TypeVar("T")


@dataclass(frozen=True)
class LongJob:
    """One long job as people follow it. ``kind`` is ``reindex``, ``rederive``, ``export``,
    ``import`` or ``exhibition``; ``subject`` names what it works on (a collection, a file);
    ``reason`` is a stored failure code (``webapp.reasons``) when it failed."""

    key: str
    kind: str
    state: str
    done: int
    total: int
    subject: str = ""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    reason: str | None = None
    failed_items: int = 0

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    @property
    def percent(self) -> int | None:
        """Whole percent done; ``None`` while the total is not known yet. A job that ended
        well is at 100 % even when it had nothing to do."""
        if self.state == DONE:
            return 100
        if self.total <= 0:
            return 0 if self.state == WAITING else None
        return min(100, self.done * 100 // self.total)


def long_jobs(now: datetime | None = None) -> list[LongJob]:
    """Every long job running or waiting, and those that ended in the last day; newest first
    within each kind (reindex, rederive, exports, imports, exhibitions)."""
    now = now or utcnow()
    since = now - KEEP_ENDED
    found: list[LongJob] = []
    try:
        found += [job for job in (_reindex(), _rederive()) if job is not None]
    except (redis.RedisError, OSError) as exc:
        log.warning("long jobs: Redis cannot be read (%s); reindex and rederive left out", exc)
    found += _exports(since) + _imports(since) + _exhibitions(since)
    kept = [job for job in found if not job.ended or _aware(job.ended_at) >= since]
    db.session.rollback()  # read-only; the next poll must see the workers' commits
    return kept


def _aware(moment: datetime | None) -> datetime:
    if moment is None:
        return utcnow()
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _moment(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, tz=UTC) if epoch else None


def _key(template: str) -> str:
    return template.format(prefix=backends.settings().queue_prefix)


# --- the index rebuild ---------------------------------------------------------------------


def _write_reindex(fields: dict[str, Any], fresh: bool = False) -> None:
    """Write the rebuild's figures (by the process that rebuilds). A Redis that does not
    answer costs the page its figures, never the rebuild."""
    key = _key(REINDEX_KEY)
    try:
        connection = backends.redis_connection()
        if fresh:
            connection.delete(key)
        connection.hset(key, mapping={**fields, "updated": time.time()})
        connection.expire(key, int(KEEP_FIGURES.total_seconds()))
    except (redis.RedisError, OSError) as exc:
        log.warning("reindex progress not recorded (%s)", exc)


def counting(items: Iterable[T], total: int) -> Iterator[T]:
    """Pass the stories of a rebuild through, recording how many went by (at most once a
    second) out of ``total``; the caller records the end (:func:`reindex_ended`)."""
    _write_reindex({"done": 0, "total": total, "state": RUNNING, "started": time.time()}, True)
    last = time.monotonic()
    for done, item in enumerate(items, start=1):
        yield item
        if time.monotonic() - last >= REPORT_EVERY:
            _write_reindex({"done": done, "total": max(total, done)})
            last = time.monotonic()


def reindex_ended(count: int | None, reason: str | None = None) -> None:
    """The rebuild ended: with ``count`` stories in the new index, or failed (``None``) for
    ``reason``, a stored failure code (``webapp.reasons``) shown in words on the jobs page."""
    if count is None:
        _write_reindex({"state": FAILED, "ended": time.time(), "reason": reason or ""})
    else:
        _write_reindex({"state": DONE, "done": count, "total": count, "ended": time.time()})


def _reindex() -> LongJob | None:
    raw = backends.redis_connection().hgetall(_key(REINDEX_KEY))
    if not raw:
        return None
    figures = {name.decode(): value.decode() for name, value in raw.items()}
    state = figures.get("state", RUNNING)
    ended = float(figures.get("ended", 0))
    reason = figures.get("reason") or None
    # Figures written before ``updated`` existed count from their start.
    updated = float(figures.get("updated") or figures.get("started") or 0)
    if state == RUNNING and time.time() - updated > STOPPED_AFTER:
        state, ended = FAILED, updated
        reason = reasons.encode("stopped_answering", minutes=max(1, round(STOPPED_AFTER / 60)))
    return LongJob(
        key="reindex",
        kind="reindex",
        state=state,
        done=int(figures.get("done", 0)),
        total=int(figures.get("total", 0)),
        started_at=_moment(float(figures.get("started", 0))),
        ended_at=_moment(ended),
        reason=reason,
    )


# --- re-derivation of images ---------------------------------------------------------------


def remember_rederive(event_ids: Sequence[int]) -> None:
    """Remember the outbox events of a re-derivation just committed (its jobs are named after
    them), so the jobs page can follow it. Called after the commit; never fails the request."""
    if not event_ids:
        return
    value = json.dumps({"events": list(event_ids), "started": time.time()})
    try:
        ttl = int(KEEP_ENDED.total_seconds() * 2)  # a forgotten request leaves no trace
        backends.redis_connection().set(_key(REDERIVE_KEY), value, ex=ttl)
    except (redis.RedisError, OSError) as exc:
        log.warning("re-derivation progress not recorded (%s)", exc)


def rederive_progress(event_ids: Sequence[int]) -> dict[str, int]:
    """Count the images of these re-derivation requests as ``ready``, ``failed`` or ``pending``.

    An image is pending while its event waits in the outbox or its job is queued, running or
    scheduled for a retry; once its job has ended (or its record expired) the media's state counts.
    """
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    counts = {"ready": 0, "failed": 0, "pending": 0}
    prefix = backends.settings().queue_prefix
    connection = backends.redis_connection()
    for event_id in event_ids:
        event = db.session.get(OutboxEvent, event_id)
        if event is None:
            continue
        for n, media_id in enumerate(event.payload["media_ids"]):
            if event.relayed_at is None:
                counts["pending"] += 1
                continue
            try:
                job = Job.fetch(f"{prefix}-evt{event_id}-{n}", connection=connection)
            except NoSuchJobError:
                job = None
            ended = job is None or job.get_status() in (JobStatus.FINISHED, JobStatus.FAILED)
            media = db.session.get(MediaAsset, media_id)
            if media is None:
                continue
            if not ended or media.state == MediaState.PENDING.value:
                counts["pending"] += 1
            else:
                counts[media.state] = counts.get(media.state, 0) + 1
    db.session.rollback()  # read-only; the next poll must see other processes' commits
    return counts


def _rederive() -> LongJob | None:
    raw = backends.redis_connection().get(_key(REDERIVE_KEY))
    if not raw:
        return None
    remembered = json.loads(raw)
    counts = rederive_progress(remembered["events"])
    total = sum(counts.values())
    pending = counts["pending"]
    state = RUNNING if pending else (FAILED if counts["failed"] else DONE)
    return LongJob(
        key="rederive",
        kind="rederive",
        state=state,
        done=total - pending,
        total=total,
        started_at=_moment(remembered.get("started")),
        ended_at=None if pending else utcnow(),
        failed_items=counts["failed"],
    )


# --- exports, imports, exhibitions (their rows hold their progress) ------------------------


def _exports(since: datetime) -> list[LongJob]:
    rows = db.session.scalars(
        db.select(ExportRun)
        .where(db.or_(ExportRun.finished_at.is_(None), ExportRun.finished_at >= since))
        .where(ExportRun.state != "deleted")
        .order_by(ExportRun.id.desc())
        .limit(LIST_LIMIT)
    ).all()
    return [
        LongJob(
            key=f"export-{run.id}",
            kind="export",
            state=_EXPORT.get(run.state, RUNNING),
            done=run.done,
            total=run.total,
            subject=run.collection_slug or "",
            started_at=run.created_at,
            ended_at=run.finished_at,
            reason=run.error,
        )
        for run in rows
    ]


def _imports(since: datetime) -> list[LongJob]:
    rows = db.session.scalars(
        db.select(ImportRun)
        .where(db.or_(ImportRun.finished_at.is_(None), ImportRun.finished_at >= since))
        .order_by(ImportRun.id.desc())
        .limit(LIST_LIMIT)
    ).all()
    return [
        LongJob(
            key=f"import-{run.id}",
            kind="import",
            state=_IMPORT.get(run.state, RUNNING),
            done=run.done,
            total=run.total,
            subject=run.source_name,
            started_at=run.created_at,
            ended_at=run.finished_at or (run.created_at if run.state in _CHECKED else None),
            reason=run.error,
        )
        for run in rows
    ]


def _exhibitions(since: datetime) -> list[LongJob]:
    rows = db.session.execute(
        db.select(Exhibition, Collection.slug)
        .join(Collection, Collection.id == Exhibition.collection_id)
        .where(db.or_(Exhibition.finished_at.is_(None), Exhibition.finished_at >= since))
        .order_by(Exhibition.requested_at.desc())
        .limit(LIST_LIMIT)
    ).all()
    return [
        LongJob(
            key=f"exhibition-{row.collection_id}",
            kind="exhibition",
            state=_EXHIBITION.get(row.state, RUNNING),
            done=row.done,
            total=row.total,
            subject=slug,
            started_at=row.started_at or row.requested_at,
            ended_at=row.finished_at,
            reason=row.error,
        )
        for row, slug in rows
    ]
