"""Image jobs: build the derivatives of one media asset.

``derive_media(media_id)`` is idempotent: derivative keys are deterministic
(``derivatives/<media-id>/<name>.<ext>``) and a media already ``ready`` with all its objects
present is left alone. A transient error (storage or database unreachable) raises, so RQ retries
with backoff; a permanent one (the image cannot be decoded) marks the media ``failed`` with a
readable reason and does not retry. This module must never modify an original.
"""

from __future__ import annotations

import hashlib
import logging

from webapp.extensions import db
from webapp.models import MediaAsset, MediaState
from webapp.services import backends, outbox
from workers.context import app_context
from workers.imaging import ImageRejected, build_derivatives

log = logging.getLogger(__name__)


def derivative_key(media_id: int, name: str, ext: str) -> str:
    return f"derivatives/{media_id}/{name}.{ext}"


def _already_done(media: MediaAsset, store) -> bool:
    return (
        media.state == MediaState.READY
        and bool(media.derivatives)
        and all(store.exists(d["key"]) for d in media.derivatives.values())
    )


def derive_media(media_id: int, force: bool = False) -> str:
    """Build and store the derivatives of media ``media_id``; return what happened."""
    with app_context():
        media = db.session.get(MediaAsset, media_id)
        if media is None:
            log.info("media %s no longer exists; nothing to derive", media_id)
            return "gone"
        store = backends.object_store()
        if not force and _already_done(media, store):
            return "already done"
        original = store.get(media.original_key)
        if hashlib.sha256(original).hexdigest() != media.sha256:
            return _fail(media, "the stored original does not match its checksum (fixity error)")
        settings = backends.settings()
        try:
            derivatives = build_derivatives(original, max_pixels=settings.max_image_pixels)
        except ImageRejected as exc:
            return _fail(media, exc.reason)
        except Exception as exc:  # a decoder bug must not crash the worker or retry forever
            log.exception("media %s: unexpected error while deriving", media_id)
            return _fail(media, f"this image could not be processed ({type(exc).__name__})")
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
        db.session.commit()
        for key in stale:  # a settings change renamed a derivative: drop the old object
            store.delete(key)
        log.info("media %s: %d derivatives written", media_id, len(written))
        return "derived"


def _fail(media: MediaAsset, reason: str) -> str:
    log.warning("media %s failed: %s", media.id, reason)
    media.state = MediaState.FAILED.value
    media.failure_reason = reason
    outbox.emit(
        "media.failed", {"media_id": media.id, "story_id": media.story_id, "reason": reason}
    )
    db.session.commit()
    return "failed"
