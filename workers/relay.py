"""The outbox relay: move committed events from the database to RQ queues.

An event row is marked relayed only after its jobs are enqueued; if Redis is down the rows stay
and the next pass retries, so nothing is lost. A crash between enqueue and marking re-enqueues the
same job ids on the next pass; the relay skips ids RQ already holds, and jobs are idempotent
anyway. Job ids are deterministic (``<queue prefix>-evt<event id>-<n>``). Several relays may run:
on PostgreSQL they skip rows another relay holds (``SKIP LOCKED``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from rq import Retry
from rq.job import Job

from webapp import page_cache
from webapp.extensions import db
from webapp.models import MediaAsset, MediaKind, OutboxEvent, PublicRecord, Story, utcnow
from webapp.services import backends
from webapp.unit_of_work import unit_of_work

log = logging.getLogger(__name__)

#: Backoff for transient failures (storage or database briefly unreachable), in seconds.
RETRY = Retry(max=5, interval=[2, 10, 30, 120, 600])
#: Seconds a job may run, by queue (a recording's own limit grows with its length: see ``_derive``).
JOB_TIMEOUT = {"images": 300, "search": 120, "default": 600, "recordings": 1800}


@dataclass(frozen=True)
class JobRoute:
    queue: str
    func: str
    args: tuple[Any, ...]
    #: Seconds the job may run, when its queue's default (``JOB_TIMEOUT``) is too short.
    timeout: int | None = None


def _story_index(payload: dict[str, Any]) -> list[JobRoute]:
    return [JobRoute("search", "workers.search.index_story", (payload["story_id"],))]


def _derive(media_ids: list[int], force: bool = False) -> list[JobRoute]:
    """A derivation job per media, in payload order (job ids number them): images on the
    ``images`` queue, audio and video on their own ``recordings`` queue with a time limit that
    grows with their length. The kind and the length are read from the database, so every event
    that asks for derivatives (submission, re-derivation, the reconciler) routes the same way."""
    recordings = dict(
        db.session.execute(
            db.select(MediaAsset.id, MediaAsset.duration).where(
                MediaAsset.id.in_(media_ids), MediaAsset.kind != MediaKind.IMAGE.value
            )
        ).all()
    ) if media_ids else {}  # fmt: skip
    extra = (True,) if force else ()
    settings = backends.settings()
    routes = []
    for media_id in media_ids:
        if media_id in recordings:
            timeout = settings.recording_timeout + int(
                (recordings[media_id] or 0) * settings.recording_timeout_per_second
            )
            routes.append(
                JobRoute(
                    "recordings", "workers.recordings.derive_recording", (media_id, *extra), timeout
                )  # fmt: skip
            )
        else:
            routes.append(JobRoute("images", "workers.images.derive_media", (media_id, *extra)))
    return routes


def _submitted(payload: dict[str, Any]) -> list[JobRoute]:
    return _derive(payload["media_ids"]) + _story_index(payload)


def _rederive(payload: dict[str, Any]) -> list[JobRoute]:
    """``passages rederive``: rebuild even derivatives that exist (settings changed)."""
    return _derive(payload["media_ids"], force=True)


def _purge_iiif_cache(payload: dict[str, Any]) -> list[JobRoute]:
    """Images the IIIF Image API cached for a story that left publication."""
    return [JobRoute("default", "workers.maintenance.purge_iiif_cache", (payload["story_id"],))]


def _withdrawn(payload: dict[str, Any]) -> list[JobRoute]:
    return _story_index(payload) + _purge_iiif_cache(payload) + _story_exhibitions(payload)


def _erased(payload: dict[str, Any]) -> list[JobRoute]:
    routes = _story_index(payload) + _purge_iiif_cache(payload) + _story_exhibitions(payload)
    if payload.get("object_keys"):
        args = (payload["story_id"], payload["object_keys"])
        routes.append(JobRoute("default", "workers.maintenance.delete_erased_objects", args))
    return routes


def _derive_requested(payload: dict[str, Any]) -> list[JobRoute]:
    """The reconciler's request: derive, skipping media whose derivatives are already there."""
    return _derive(payload["media_ids"])


def _erasure_resumed(payload: dict[str, Any]) -> list[JobRoute]:
    args = (payload["story_id"], payload["object_keys"])
    return [JobRoute("default", "workers.maintenance.delete_erased_objects", args)]


#: Building an exhibition decodes every printed image and lays out two PDFs; 30 stories take
#: well under a minute (bench/exhibition.py), a collection of hundreds several minutes.
EXHIBITION_TIMEOUT = 1800


def _exhibition(payload: dict[str, Any]) -> list[JobRoute]:
    args = (payload["collection_id"],)
    return [JobRoute("default", "workers.exhibitions.build_exhibition", args, EXHIBITION_TIMEOUT)]


def _story_exhibitions(payload: dict[str, Any]) -> list[JobRoute]:
    """Exhibitions that show or hold the story are dropped (left publication) or rebuilt."""
    return [JobRoute("default", "workers.exhibitions.story_changed", (payload["story_id"],))]


def _collection_members(payload: dict[str, Any]) -> list[JobRoute]:
    routes = [JobRoute("search", "workers.search.index_story", (i,)) for i in payload["story_ids"]]
    return routes + _exhibition(payload)


def _public_change(payload: dict[str, Any]) -> list[JobRoute]:
    """Published or edited: the index and the exhibitions that hold the story follow."""
    return _story_index(payload) + _story_exhibitions(payload)


#: Exports and imports walk the whole archive; they report progress and resume, but one run may
#: take long on a large archive.
TRANSFER_TIMEOUT = 6 * 3600


def _export(payload: dict[str, Any]) -> list[JobRoute]:
    args = (payload["export_id"],)
    return [JobRoute("default", "workers.transfers.build_export", args, TRANSFER_TIMEOUT)]


def _import(payload: dict[str, Any]) -> list[JobRoute]:
    args = (payload["import_id"], payload["step"])
    return [JobRoute("default", "workers.transfers.run_import", args, TRANSFER_TIMEOUT)]


def _mail(payload: dict[str, Any]) -> list[JobRoute]:
    return [JobRoute("default", "workers.mail.send_notification", (payload["notification_id"],))]


ROUTES: dict[str, Callable[[dict[str, Any]], list[JobRoute]]] = {
    "story.submitted": _submitted,
    "story.approved": _story_index,
    "story.published": _public_change,
    "story.rejected": _story_index,
    "story.withdrawn": _withdrawn,
    # Out of public view at once (back in review): dropped everywhere as for a withdrawal.
    "story.consent_withdrawn": _withdrawn,
    # Moderation moves: the index keeps each story's status for archivists' searches.
    "story.returned": _story_index,
    "story.recalled": _story_index,
    "story.resubmitted": _story_index,
    "story.forwarded": _story_index,
    "story.review_started": _story_index,
    "story.changes_requested": _story_index,
    "story.metadata_edited": _public_change,
    # A transcript or index points changed: what is said in the recording is searched.
    "story.transcript_changed": _story_index,
    "story.erased": _erased,
    "collection.changed": _collection_members,
    "media.rederive_requested": _rederive,
    "notification.created": _mail,
    "export.requested": _export,
    "import.requested": _import,
    "exhibition.requested": _exhibition,
    # Re-emitted by the reconciler (workers.reconcile) for work that was lost.
    "media.derive_requested": _derive_requested,
    "story.reindex_requested": _story_index,
    "story.erasure_resumed": _erasure_resumed,
}


def jobs_for(event: OutboxEvent) -> list[JobRoute]:
    route = ROUTES.get(event.event_type)
    return route(event.payload) if route else []


#: Events that change no public page: mail, transfers, and the request to build an exhibition
#: (the changes that call for one announce themselves).
NO_PAGE_EVENTS = frozenset(
    {"notification.created", "export.requested", "import.requested", "exhibition.requested"}
)


def changes_public_pages(events: list[OutboxEvent]) -> bool:
    """Whether relaying ``events`` must retire the kept public pages (``webapp.page_cache``).

    Retiring every page for a pupil's draft or its photos made a class submitting at 9:02 empty
    the cache just as the crowd came. So an event about stories (``story.*``, and ``media.*``
    through its media's stories) retires the pages only when one of them is public now, was
    public once (it has a public record: withdrawn, edited, erased since) or is gone. A
    collection change always does (titles and members are on public pages); so does an event
    this table does not know, or one about stories that names none — when in doubt, retire: a
    withdrawn story must never stay on a kept page.
    """
    story_ids: set[int] = set()
    media_ids: set[int] = set()
    for event in events:
        if event.event_type in NO_PAGE_EVENTS:
            continue
        about_stories = event.event_type.startswith(("story.", "media."))
        if about_stories and event.story_id is not None:
            story_ids.add(event.story_id)
        elif about_stories and event.payload.get("media_ids"):
            media_ids.update(event.payload["media_ids"])
        else:
            return True
    if media_ids:
        found = dict(
            db.session.execute(
                db.select(MediaAsset.id, MediaAsset.story_id).where(
                    MediaAsset.id.in_(sorted(media_ids))
                )
            ).all()
        )
        if len(found) < len(media_ids):
            return True  # erased with its story meanwhile
        story_ids.update(found.values())
    return bool(story_ids) and _public_or_once_public(story_ids)


def _public_or_once_public(story_ids: set[int]) -> bool:
    ids = sorted(story_ids)
    count = db.select(db.func.count())
    if db.session.scalar(count.select_from(Story).where(Story.id.in_(ids))) < len(ids):
        return True  # erased: it may have been public
    if db.session.scalar(count.select_from(Story).where(Story.id.in_(ids), Story.is_public)):
        return True
    return bool(
        db.session.scalar(count.select_from(PublicRecord).where(PublicRecord.story_id.in_(ids)))
    )


def relay_once(limit: int = 200) -> int:
    """Relay up to ``limit`` pending events; return how many were marked relayed.

    One pass is one unit of work: the rows it marked (and the attempt it counted when Redis was
    unreachable) commit together at the end.
    """
    with unit_of_work():
        return _relay_pass(limit)


def _relay_pass(limit: int) -> int:
    query = (
        db.select(OutboxEvent)
        .where(OutboxEvent.relayed_at.is_(None))
        .order_by(OutboxEvent.id)
        .limit(limit)
    )
    if not backends.settings().uses_sqlite:
        query = query.with_for_update(skip_locked=True)
    events = db.session.scalars(query).all()
    relayed = 0
    settings = backends.settings()
    prefix = settings.queue_prefix
    try:
        for event in events:
            for n, job in enumerate(jobs_for(event)):
                job_id = f"{prefix}-evt{event.id}-{n}"
                if Job.exists(job_id, connection=backends.redis_connection()):
                    continue  # enqueued by a pass that crashed before marking the row
                backends.queue(job.queue).enqueue_call(
                    job.func,
                    args=job.args,
                    job_id=job_id,
                    retry=RETRY,
                    timeout=job.timeout or JOB_TIMEOUT[job.queue],
                    # Nobody reads a finished job's result (the database has the outcome): RQ
                    # deletes it, with the job's record, after PASSAGES_KEEP_JOB_RESULTS_HOURS.
                    result_ttl=settings.job_result_ttl,
                    failure_ttl=settings.keep_failed_jobs_days * 86400,
                    description=f"{event.event_type} #{event.id}: {job.func}{job.args}",
                )
            event.relayed_at = utcnow()
            event.attempts += 1
            relayed += 1
        if changes_public_pages(events[:relayed]):
            page_cache.invalidate()  # the change is committed: retire the pages rendered before
    except (redis.RedisError, OSError) as exc:
        OUTAGE.failed(exc)
        for event in events[relayed : relayed + 1]:
            event.attempts += 1
            event.last_error = str(exc)[:500]
    else:
        if events:
            OUTAGE.recovered()
    return relayed


class OutageLog:
    """Say once that Redis is unreachable, and once that it is back — not every pass.

    The relay tries every ``PASSAGES_RELAY_INTERVAL`` (0.25 s): logging each failed pass buried
    the log under thousands of identical lines during a short outage. The first failure is a
    warning, later ones are debug lines, and the recovery says how long the outage lasted.
    """

    def __init__(self, logger: logging.Logger) -> None:
        self.log = logger
        self.since: float | None = None
        self._lock = threading.Lock()

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            if self.since is None:
                self.since = time.monotonic()
                self.log.warning(
                    "relay paused, Redis unreachable: %s (events wait in the outbox)", exc
                )
            else:
                self.log.debug("relay still paused: %s", exc)

    def recovered(self) -> None:
        with self._lock:
            if self.since is not None:
                self.log.warning(
                    "relay resumed, Redis reachable again after %.0f s",
                    time.monotonic() - self.since,
                )
                self.since = None


OUTAGE = OutageLog(log)


#: Seconds between two transfers of the collection readings counted in Redis to the database.
VIEW_COUNT_INTERVAL = 5.0


def flush_view_counts() -> int:
    """Move the readings of collection pages counted in Redis (while pages come from the page
    cache) into ``collection_views``; return how many. Redis down: nothing to move."""
    from webapp.services import collections

    if not page_cache.enabled():
        return 0
    try:
        counts = collections.take_view_counts()
    except (redis.RedisError, OSError):
        return 0
    if not counts:
        return 0
    with unit_of_work() as uow:
        return collections.add_view_counts(uow, counts)


def pending_count() -> int:
    return db.session.scalar(
        db.select(db.func.count()).select_from(OutboxEvent).where(OutboxEvent.relayed_at.is_(None))
    )


class RelayThread(threading.Thread):
    """Runs ``relay_once`` every ``interval`` seconds.

    Only for processes that never fork (the embedded web server, ``passages relay``): forking
    while this thread holds a lock could deadlock the child, which is why RQ workers do not
    host it.
    """

    def __init__(self, app, interval: float) -> None:
        super().__init__(name="outbox-relay", daemon=True)
        self.app = app
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        counted_at = 0.0
        while not self.stopping.is_set():
            try:
                with self.app.app_context():
                    while relay_once() and not self.stopping.is_set():
                        pass
                    if time.monotonic() - counted_at >= VIEW_COUNT_INTERVAL:
                        counted_at = time.monotonic()
                        flush_view_counts()
                    db.session.remove()
            except Exception:  # keep relaying after a database hiccup
                log.exception("relay pass failed")
            self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()
