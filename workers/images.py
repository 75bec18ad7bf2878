"""Image jobs: build the derivatives of one media asset.

``derive_media(media_id)`` is idempotent: derivative keys are deterministic
(``derivatives/<media-id>/<name>.<ext>``) and a media already ``ready`` with all its objects
present is left alone. A transient error (storage or database unreachable) raises, so RQ retries
with backoff; a permanent one (the image cannot be decoded) marks the media ``failed`` with a
readable reason and does not retry. So does a job stopped by its memory or time limit
(``workers.worker.PassagesWorker`` calls :func:`give_up` when a job will not run again).
Each job is one unit of work (``webapp.unit_of_work``): the media row and its event commit
together, once. This module must never modify an original.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

from rq.timeouts import JobTimeoutException

from webapp import reasons
from webapp.extensions import db
from webapp.media.imaging import ImageRejected, build_derivatives
from webapp.media.keys import derivative_key, derivative_prefix
from webapp.models import MediaAsset, MediaState
from webapp.operations import long_jobs
from webapp.services import backends, outbox
from webapp.unit_of_work import UnitOfWork, unit_of_work
from workers.context import app_context

log = logging.getLogger(__name__)


def _already_done(media: MediaAsset, store) -> bool:
    return (
        media.state == MediaState.READY
        and bool(media.derivatives)
        and all(store.exists(d["key"]) for d in media.derivatives.values())
    )


def derive_media(media_id: int, force: bool = False) -> str:
    """Build and store the derivatives of media ``media_id``; return what happened."""
    with app_context(), unit_of_work() as uow:
        media = db.session.get(MediaAsset, media_id)
        if media is None:
            log.info("media %s no longer exists; nothing to derive", media_id)
            return "gone"
        store = backends.object_store()
        if not force and _already_done(media, store):
            return "already done"
        original = store.get(media.original_key)
        if hashlib.sha256(original).hexdigest() != media.sha256:
            return _fail(media, reasons.encode("fixity"))
        settings = backends.settings()
        try:
            derivatives = build_derivatives(original, max_pixels=settings.max_image_pixels)
        except ImageRejected as exc:
            return _fail(media, reasons.of(exc))
        except MemoryError:
            return _fail(media, reasons.encode("job_memory", mb=settings.job_memory_mb))
        except JobTimeoutException:
            return _fail(media, reasons.encode("job_timeout"))
        except Exception as exc:  # a decoder bug must not crash the worker or retry forever
            log.exception("media %s: unexpected error while deriving", media_id)
            return _fail(media, reasons.encode("image_unexpected", detail=type(exc).__name__))
        written = {}
        for derivative in derivatives:
            key = derivative_key(media.id, derivative.name, derivative.ext)
            store.put(key, derivative.data, content_type=derivative.mime)
            written[derivative.name] = {
                "key": key,
                "mime": derivative.mime,
                "width": derivative.width,
                "height": derivative.height,
                "bytes": len(derivative.data),
            }
        stale = {d["key"] for d in (media.derivatives or {}).values()} - {
            d["key"] for d in written.values()
        }
        media.derivatives = written
        media.state = MediaState.READY.value
        media.failure_reason = None
        outbox.emit("media.derived", {"media_id": media.id, "story_id": media.story_id})
        # Once committed, objects of derivatives a settings change renamed are dropped.
        uow.after_commit(lambda: _delete_stale(store, media_id, stale))
        log.info("media %s: %d derivatives written", media_id, len(written))
        return "derived"


def _delete_stale(store, media_id: int, keys: set[str]) -> None:
    for key in keys:
        store.delete(key)
    if keys:
        log.info("media %s: %d stale derivative(s) removed", media_id, len(keys))


def _fail(media: MediaAsset, reason: str) -> str:
    """Mark ``media`` failed; ``reason`` is stored as given: a code from ``webapp.reasons``."""
    log.warning("media %s failed: %s", media.id, reason)
    media.state = MediaState.FAILED.value
    media.failure_reason = reason
    outbox.emit(
        "media.failed", {"media_id": media.id, "story_id": media.story_id, "reason": reason}
    )
    return "failed"


#: Marks a media ``failed`` with a reason, in the caller's unit of work; the recording job
#: (``workers.recordings``) fails the same way, with the same event.
record_failure = _fail


def give_up(media_id: int, reason: str) -> str:
    """Record that deriving ``media_id`` will not be tried again (called by the worker).

    The media ends ``failed`` with ``reason``, as after any permanent failure (also when a forced
    re-run fails: the archivist must see that the image no longer derives under the current
    settings). Objects a killed run wrote but never recorded are removed, so no partial
    derivative is left behind.
    """
    with app_context():
        with unit_of_work():
            media = db.session.get(MediaAsset, media_id)
            if media is None:
                return "gone"
            recorded = {d["key"] for d in (media.derivatives or {}).values()}
            outcome = _fail(media, reason)
        try:  # after recording the failure: the store may be what failed
            store = backends.object_store()
            for item in list(store.list(derivative_prefix(media_id))):
                if item.key not in recorded:
                    store.delete(item.key)
        except Exception:
            log.exception("media %s: could not remove unrecorded derivatives", media_id)
        return outcome


def request_rederive(uow: UnitOfWork, story_ids: Sequence[int] | None) -> list[int]:
    """Queue a forced re-derivation of every image of ``story_ids`` (``None``: every story).

    One ``media.rederive_requested`` outbox event per story, in the caller's unit of work (so
    committed together); the relay turns
    each into ``derive_media(media_id, force=True)`` jobs. Returns the event ids, which name the
    jobs (see :func:`webapp.operations.long_jobs.rederive_progress`).
    """
    query = db.select(MediaAsset.story_id, MediaAsset.id).order_by(
        MediaAsset.story_id, MediaAsset.position, MediaAsset.id
    )
    if story_ids is not None:
        query = query.where(MediaAsset.story_id.in_(list(story_ids)))
    by_story: dict[int, list[int]] = {}
    for story_id, media_id in db.session.execute(query):
        by_story.setdefault(story_id, []).append(media_id)
    events = [
        outbox.emit("media.rederive_requested", {"story_id": story_id, "media_ids": media_ids})
        for story_id, media_ids in by_story.items()
    ]
    uow.flush()  # the event ids name the jobs
    event_ids = [event.id for event in events]
    uow.after_commit(lambda: long_jobs.remember_rederive(event_ids))  # for the jobs page
    log.info(
        "re-derivation requested for %d image(s) of %d story(ies)",
        sum(map(len, by_story.values())),
        len(by_story),
    )
    return event_ids
