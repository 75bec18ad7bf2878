"""Maintenance jobs: housekeeping that must happen even when the web request that caused it could
not finish it (object deletions after an erasure), and the pruning of what only grows (relayed
outbox events, RQ's failed jobs, read notifications, old export files).

Jobs here are idempotent and re-check the database before destroying anything: an object is only
deleted when no row refers to it any more. Pruning never removes an event that is not relayed
yet, nor the ``story.erased`` events that prove an erasure happened and name what it deleted.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from webapp.extensions import db
from webapp.models import Notification, ObjectClaim, OutboxEvent, utcnow
from webapp.operations.jobs import QueuesUnavailable, purge_failed
from webapp.services import backends
from workers.context import app_context

log = logging.getLogger(__name__)

#: Claims on object keys older than this are dropped by :func:`prune`.
CLAIMS_KEPT = timedelta(days=1)


def delete_erased_objects(story_id: int, keys: list[str]) -> int:
    """Delete the objects of an erased story that nothing refers to any more; return how many.

    The erasure request already tried once; this job is the guarantee (RQ retries it when the
    store is unreachable). Each key is deleted under its claim, like the collector's deletions
    (:mod:`webapp.operations.claims`): a submission of the same photo that is writing it right
    now either commits first (and the original is kept) or writes it again after the deletion.
    """
    from webapp.operations.collector import delete_if_unreferenced

    with app_context():
        store = backends.object_store()
        whatever_its_age = utcnow() + timedelta(days=1)
        deleted = sum(delete_if_unreferenced(key, whatever_its_age, store=store) for key in keys)
        log.info("erased story %s: %d object(s) confirmed deleted", story_id, deleted)
        return deleted


def purge_iiif_cache(story_id: int) -> int:
    """Delete the IIIF images cached for a story that was withdrawn or erased; return how many.

    Routed on ``story.withdrawn`` and ``story.erased``: a story that left publication must not
    keep images made from it in the store (the Image API already refuses to serve them). A story
    published again meanwhile keeps its cache.
    """
    from webapp.services.iiif import purge_story_cache

    with app_context():
        return purge_story_cache(story_id)


#: Event types kept whatever their age: the audit trail of an erasure (when, by whom, what was
#: deleted) lives in them, and the reconciler checks that their objects are really gone.
KEPT_EVENT_TYPES = frozenset({"story.erased"})


def prune(now=None) -> dict[str, int]:
    """Delete what is past its keeping age (see the ``PASSAGES_KEEP_*`` settings); return counts.

    Needs an app context; commits once (it is its own unit of work, as a job).
    """
    from webapp.unit_of_work import unit_of_work

    settings = backends.settings()
    now = now or utcnow()
    counts: dict[str, int] = {}
    with unit_of_work():
        events_cutoff = now - timedelta(days=settings.keep_relayed_events_days)
        counts["outbox_events"] = db.session.execute(
            db.delete(OutboxEvent).where(
                OutboxEvent.relayed_at.is_not(None),
                OutboxEvent.relayed_at < events_cutoff,
                OutboxEvent.event_type.not_in(KEPT_EVENT_TYPES),
            )
        ).rowcount
        notes_cutoff = now - timedelta(days=settings.keep_notifications_days)
        counts["notifications"] = db.session.execute(
            db.delete(Notification).where(
                Notification.read_at.is_not(None), Notification.read_at < notes_cutoff
            )
        ).rowcount
        # A claim matters only while the transaction that took it is open (minutes at most);
        # the rows it leaves behind would otherwise grow with every original ever submitted.
        # A claim still held is locked by its transaction, so this delete waits for it.
        counts["object_claims"] = db.session.execute(
            db.delete(ObjectClaim).where(ObjectClaim.claimed_at < now - CLAIMS_KEPT)
        ).rowcount
    counts["exports"] = _prune_exports(now.timestamp() - settings.keep_exports_days * 86400)
    counts["imports"] = _prune_imports(now.timestamp() - settings.keep_exports_days * 86400)
    try:
        counts["failed_jobs"] = _prune_failed_jobs(now, settings.keep_failed_jobs_days)
    except QueuesUnavailable as exc:  # the next hourly run tries again
        log.warning("failed jobs not pruned: %s", exc)
    log.info("pruned %s", ", ".join(f"{n} {what}" for what, n in counts.items()))
    _refresh_planner_statistics()
    return counts


def _refresh_planner_statistics() -> None:
    """Hourly, after the deletions: the archive's shape changes as it grows (SQLite only)."""
    with db.engine.begin() as connection:  # its own short transaction, committed on leaving
        backends.refresh_planner_statistics(connection)


def _prune_failed_jobs(now, days: int) -> int:
    """Failed jobs that ended more than ``days`` ago leave RQ's failed registry (and Redis)."""
    return purge_failed(timedelta(days=days), now=now)


def _prune_exports(cutoff: float) -> int:
    folder = backends.settings().data_dir / "exports"
    if not folder.is_dir():
        return 0
    removed = 0
    for path in folder.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _prune_imports(cutoff: float) -> int:
    """Uploaded import files (``<data>/imports/<folder>``) go after the exports' keeping age; the
    stories they made are in the archive, and an import is resumed within days, not weeks."""
    import shutil

    folder = backends.settings().data_dir / "imports"
    if not folder.is_dir():
        return 0
    removed = 0
    for path in folder.iterdir():
        if path.is_dir() and path.stat().st_mtime < cutoff:
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def scheduled_prune() -> dict[str, int]:
    """The hourly job: prune, then schedule the next run (see ``workers.reconcile``)."""
    from workers.reconcile import PRUNE_INTERVAL, schedule_next

    with app_context():
        try:
            return prune()
        finally:
            schedule_next("prune", "workers.maintenance.scheduled_prune", PRUNE_INTERVAL)
