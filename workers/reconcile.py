"""The reconciler: find work that was lost after the relay, and hand it in again via the outbox.

Why it exists: the relay marks an event relayed once its jobs are in Redis, and from then on the
jobs live only there. A crash of Redis between snapshots, a database restored from a backup, a
job that failed for good on an outage — each leaves media ``pending``, stories missing from (or
outdated in) the search index, or erased stories' objects still stored, with nothing to notice.

A pass compares the database (the truth) with what is alive in RQ — jobs queued, being moved to
a worker, started, scheduled for a retry or deferred — and with the events still waiting in the
outbox. Whatever is stuck beyond a grace period with neither a job nor a waiting event is
re-emitted as an outbox event (``media.derive_requested``, ``story.reindex_requested``,
``story.erasure_resumed``) in one unit of work; the relay and the idempotent jobs do the rest.
It runs at start-up (``passages run``, ``passages worker``) and on a schedule (RQ's scheduler,
:func:`ensure_scheduled`). ``passages check`` (fixity and consistency) reuses :func:`find_stuck`.

This module must never do the work itself nor enqueue jobs directly (only the outbox), and never
re-emit when it cannot see RQ's registries: with Redis unreachable, a pass does nothing and says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import redis
from rq.job import Job
from rq.registry import DeferredJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from webapp.broker import QUEUE_PURPOSES
from webapp.extensions import db
from webapp.models import MediaAsset, MediaState, OutboxEvent, Story, StoryStatus, utcnow
from webapp.services import backends, outbox
from webapp.unit_of_work import unit_of_work
from workers.relay import jobs_for

log = logging.getLogger(__name__)

#: At most this many items of each kind are re-emitted per pass, so a pass stays short after a
#: disaster (a restored database); the next pass takes the rest.
MAX_PER_PASS = 1000

DERIVE = "workers.images.derive_media"
DERIVE_RECORDING = "workers.recordings.derive_recording"
INDEX = "workers.search.index_story"
DELETE = "workers.maintenance.delete_erased_objects"


class RegistriesUnavailable(RuntimeError):
    """RQ's registries cannot be read (Redis unreachable): nothing can be called stuck."""


@dataclass
class AliveWork:
    """Subjects that have a job alive in RQ or an event waiting in the outbox."""

    media_ids: set[int] = field(default_factory=set)
    indexed_story_ids: set[int] = field(default_factory=set)
    erasure_story_ids: set[int] = field(default_factory=set)
    jobs_seen: int = 0

    def add_job(self, func_name: str, args: tuple[Any, ...]) -> None:
        if not args:
            return
        if func_name in (DERIVE, DERIVE_RECORDING):
            self.media_ids.add(int(args[0]))
        elif func_name == INDEX:
            self.indexed_story_ids.add(int(args[0]))
        elif func_name == DELETE:
            self.erasure_story_ids.add(int(args[0]))


@dataclass
class Findings:
    """What one pass found stuck; ``emitted`` counts the events it wrote."""

    stuck_media: dict[int, list[int]] = field(default_factory=dict)  # story id → media ids
    stale_stories: dict[int, str] = field(default_factory=dict)  # story id → why
    unfinished_erasures: dict[int, list[str]] = field(default_factory=dict)  # story id → keys
    emitted: int = 0
    jobs_alive: int = 0

    @property
    def media_count(self) -> int:
        return sum(map(len, self.stuck_media.values()))

    def summary(self) -> str:
        return (
            f"{self.media_count} stuck image(s), {len(self.stale_stories)} stale index "
            f"entr(ies), {len(self.unfinished_erasures)} unfinished erasure(s)"
        )


def _queued_job_ids(queue) -> Iterable[str]:
    """Job ids in every place RQ keeps a job that will still run, in the order jobs move.

    Deferred and scheduled jobs become queued, queued ones move through the intermediate queue
    to the started registry; reading in that order means a job moving during the pass is seen
    in its later place rather than missed. Reading the started registry also makes RQ clean it
    up: jobs whose worker died (no heartbeat) are retried or failed, as RQ's maintenance would.
    """
    connection = queue.connection
    yield from DeferredJobRegistry(queue=queue).get_job_ids()
    yield from ScheduledJobRegistry(queue=queue).get_job_ids()
    yield from queue.get_job_ids()
    intermediate = getattr(queue, "intermediate_queue", None)
    if intermediate is not None:
        yield from intermediate.get_job_ids()
    yield from StartedJobRegistry(queue.name, connection=connection).get_job_ids()


def alive_work() -> AliveWork:
    """Collect what is alive in RQ and waiting in the outbox; raise if Redis cannot be read."""
    alive = AliveWork()
    # A waiting event is alive work for exactly the jobs the relay will make of it: one that
    # names a story but asks for nothing (``media.derived``) must not hide a lost index update.
    for event in db.session.scalars(db.select(OutboxEvent).where(OutboxEvent.relayed_at.is_(None))):
        try:
            routes = jobs_for(event)
        except Exception:  # noqa: BLE001 - a malformed payload makes no job: nothing alive
            log.debug("reconciler: event %s makes no job", event.id)
            continue
        for route in routes:
            alive.add_job(route.func, route.args)
    try:
        connection = backends.redis_connection()
        job_ids: list[str] = []
        for purpose in QUEUE_PURPOSES:
            job_ids.extend(_queued_job_ids(backends.queue(purpose)))
        for job in Job.fetch_many(list(dict.fromkeys(job_ids)), connection=connection):
            if job is None:
                continue
            alive.jobs_seen += 1
            try:
                alive.add_job(job.func_name, tuple(job.args or ()))
            except Exception:  # noqa: BLE001 - a job that cannot be decoded names no subject
                log.debug("reconciler: job %s has no readable arguments", job.id)
    except (redis.RedisError, OSError) as exc:
        raise RegistriesUnavailable(f"RQ's registries cannot be read: {exc}") from exc
    return alive


def _pending_media(cutoff) -> dict[int, int]:
    rows = db.session.execute(
        db.select(MediaAsset.id, MediaAsset.story_id)
        .where(MediaAsset.state == MediaState.PENDING.value, MediaAsset.updated_at <= cutoff)
        .order_by(MediaAsset.id)
    )
    return {media_id: story_id for media_id, story_id in rows}


def _stale_stories(cutoff, index_statuses: dict[int, str]) -> dict[int, str]:
    """Stories whose index entry disagrees with the database (the index is derived data)."""
    stale: dict[int, str] = {}
    rows = db.session.execute(db.select(Story.id, Story.status, Story.updated_at))
    in_db: set[int] = set()
    for story_id, status, updated_at in rows:
        in_db.add(story_id)
        if updated_at is not None and _aware(updated_at) > cutoff:
            continue  # recently changed: its own event is (or was just) on its way
        indexed = index_statuses.get(story_id)
        if indexed is None:
            if status != StoryStatus.DRAFT.value:
                stale[story_id] = f"missing from the index ({status})"
        elif indexed != status:
            stale[story_id] = f"indexed as {indexed}, is {status}"
    for story_id, indexed in index_statuses.items():
        if story_id not in in_db:
            stale[story_id] = f"still in the index ({indexed}) but no longer in the database"
    return stale


def _aware(moment):
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _erasure_leftovers(cutoff) -> dict[int, list[str]]:
    """Objects of erased stories still stored although nothing refers to them any more."""
    from webapp.operations.collector import is_referenced

    leftovers: dict[int, list[str]] = {}
    events = db.session.scalars(
        db.select(OutboxEvent).where(
            OutboxEvent.event_type == "story.erased",
            OutboxEvent.relayed_at.is_not(None),
            OutboxEvent.created_at <= cutoff,
        )
    ).all()
    if not events:
        return leftovers
    store = backends.object_store()
    for event in events:
        keys = [
            key
            for key in (event.payload or {}).get("object_keys") or ()
            if not is_referenced(key) and store.exists(key)
        ]
        if keys:
            leftovers.setdefault(int(event.payload["story_id"]), []).extend(keys)
    return leftovers


def find_stuck(grace_seconds: float) -> Findings:
    """What is stuck beyond ``grace_seconds`` with no job alive and no event waiting.

    Raises :class:`RegistriesUnavailable` when Redis cannot be read. Read-only.
    """
    cutoff = utcnow() - timedelta(seconds=grace_seconds)
    media = _pending_media(cutoff)
    index_statuses = backends.search_index().indexed_statuses()
    stale = _stale_stories(cutoff, index_statuses)
    erasures = _erasure_leftovers(cutoff)
    alive = alive_work()  # after the candidates: a job that ends meanwhile is re-checked below
    db.session.rollback()  # see commits made while we read Redis
    still_pending = set(_pending_media(cutoff)) if media else set()
    findings = Findings(jobs_alive=alive.jobs_seen)
    for media_id, story_id in media.items():
        if media_id in alive.media_ids or media_id not in still_pending:
            continue
        findings.stuck_media.setdefault(story_id, []).append(media_id)
    if stale:
        fresh = _stale_stories(cutoff, backends.search_index().indexed_statuses())
        findings.stale_stories = {
            s: why for s, why in fresh.items() if s in stale and s not in alive.indexed_story_ids
        }
    findings.unfinished_erasures = {
        s: keys for s, keys in erasures.items() if s not in alive.erasure_story_ids
    }
    return findings


def _limited(items: dict, limit: int) -> dict:
    return dict(list(items.items())[:limit])


def reconcile(grace_seconds: float | None = None) -> Findings:
    """One pass: find what is stuck and re-emit its events through the outbox (one commit).

    Needs an app context. Raises :class:`RegistriesUnavailable` when Redis cannot be read, in
    which case nothing is emitted.
    """
    settings = backends.settings()
    grace = settings.reconcile_grace if grace_seconds is None else grace_seconds
    findings = find_stuck(grace)
    budget = MAX_PER_PASS
    with unit_of_work():
        for story_id, media_ids in findings.stuck_media.items():
            if budget <= 0:
                break
            chunk = media_ids[:budget]
            budget -= len(chunk)
            outbox.emit(
                "media.derive_requested",
                {"story_id": story_id, "media_ids": chunk, "reason": "pending with no job alive"},
            )
            findings.emitted += 1
        for story_id, why in _limited(findings.stale_stories, MAX_PER_PASS).items():
            outbox.emit("story.reindex_requested", {"story_id": story_id, "reason": why[:200]})
            findings.emitted += 1
        for story_id, keys in _limited(findings.unfinished_erasures, MAX_PER_PASS).items():
            outbox.emit("story.erasure_resumed", {"story_id": story_id, "object_keys": keys})
            findings.emitted += 1
    _record(findings)
    if findings.emitted:
        log.warning("reconciler: %s; re-emitted %d event(s)", findings.summary(), findings.emitted)
    else:
        log.info("reconciler: nothing stuck (%d job(s) alive)", findings.jobs_alive)
    return findings


def stats_key() -> str:
    return f"{backends.settings().queue_prefix}:reconciler"


def _record(findings: Findings) -> None:
    """Keep the last pass's figures in Redis for ``/metrics`` (every process can read them)."""
    try:
        connection = backends.redis_connection()
        key = stats_key()
        with connection.pipeline() as pipe:
            pipe.hset(
                key,
                mapping={
                    "last_run": time.time(),
                    "stuck_media": findings.media_count,
                    "stale_index": len(findings.stale_stories),
                    "unfinished_erasures": len(findings.unfinished_erasures),
                },
            )
            pipe.hincrby(key, "stuck_media_total", findings.media_count)
            pipe.hincrby(key, "stale_index_total", len(findings.stale_stories))
            pipe.hincrby(key, "unfinished_erasures_total", len(findings.unfinished_erasures))
            pipe.execute()
    except (redis.RedisError, OSError):
        log.debug("reconciler: could not record figures", exc_info=True)


def requeue_abandoned() -> int:
    """Hand back to RQ every job its started registries hold; return how many there were.

    Only for a Redis no worker is using (``passages run``'s own, before it starts its worker):
    every job marked started there was abandoned by a worker that died with the last run, and
    the scheduler locks it holds belong to a dead scheduler (they are released). RQ's
    own clean-up treats them as abandoned (retried if they have retries left, else failed — and
    then the reconciler re-emits their work) without waiting for their heartbeat to expire.
    """
    from rq.scheduler import RQScheduler

    abandoned = 0
    for purpose in QUEUE_PURPOSES:
        queue = backends.queue(purpose)
        # The dead run's scheduler still "holds" its lock until the key expires; the new
        # worker's scheduler would only take over minutes later, leaving retries unscheduled.
        queue.connection.delete(RQScheduler.get_locking_key(queue.name))
        registry = StartedJobRegistry(queue.name, connection=queue.connection)
        count = registry.count
        if count:
            registry.cleanup(timestamp=time.time() + 10**9)
            abandoned += count
    if abandoned:
        log.warning("%d job(s) abandoned by a previous run handed back to RQ", abandoned)
    return abandoned


def reconcile_safely(
    app, grace_seconds: float | None = None, *, abandoned_too: bool = False
) -> Findings | None:
    """Run a pass for a process starting up: log, never raise (a start must not fail on it).

    ``abandoned_too``: first hand back jobs a dead worker left marked started (see
    :func:`requeue_abandoned`; only when no worker can be alive on this Redis).
    """
    try:
        with app.app_context():
            try:
                if abandoned_too:
                    requeue_abandoned()
                return reconcile(grace_seconds)
            finally:
                db.session.remove()
    except RegistriesUnavailable as exc:
        log.warning("reconciler skipped: %s", exc)
    except Exception:
        log.exception("reconciler pass failed")
    return None


# --- the schedule ------------------------------------------------------------------------------


def _slot_job_id(name: str, interval: int, offset: int = 1) -> tuple[str, float]:
    slot = int(time.time() // interval) + offset
    return f"{backends.settings().queue_prefix}-{name}-{slot}", slot * interval


def schedule_next(name: str, func: str, interval: int) -> str | None:
    """Schedule ``func`` for the next time slot of ``interval`` seconds, once per slot.

    The job id names the slot, so any number of workers (each calls this at start, and every
    run schedules its successor) put exactly one job in each slot. RQ's scheduler (started by
    every ``passages worker``) enqueues it when its time comes.
    """
    from datetime import UTC, datetime

    if interval <= 0:
        return None
    job_id, at = _slot_job_id(name, interval)
    connection = backends.redis_connection()
    if Job.exists(job_id, connection=connection):
        return job_id
    backends.queue("default").enqueue_at(
        datetime.fromtimestamp(at, tz=UTC),
        func,
        job_id=job_id,
        result_ttl=interval * 2,
        failure_ttl=86400,
        description=f"scheduled {name}",
    )
    return job_id


def ensure_scheduled() -> None:
    """Make sure the periodic passes (reconciler, pruning, upkeep) have their next run scheduled."""
    settings = backends.settings()
    schedule_next("reconcile", "workers.reconcile.scheduled_pass", settings.reconcile_interval)
    schedule_next("prune", "workers.maintenance.scheduled_prune", PRUNE_INTERVAL)
    from workers.upkeep import ensure_scheduled as ensure_upkeep_scheduled

    ensure_upkeep_scheduled()  # leftover collector and the weekly fixity check


#: Pruning old rows is cheap but not urgent: once an hour.
PRUNE_INTERVAL = 3600


def scheduled_pass() -> str:
    """The scheduled job: one reconciler pass, then schedule the next one."""
    from workers.context import app_context

    with app_context():
        try:
            findings = reconcile()
        finally:
            schedule_next(
                "reconcile",
                "workers.reconcile.scheduled_pass",
                backends.settings().reconcile_interval,
            )
        return findings.summary()
