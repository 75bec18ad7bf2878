"""Recording jobs: turn one audio or video original into what every browser plays.

``derive_recording(media_id)`` runs on its own queue (``recordings``), so an hour of video never
delays thumbnails or search. It copies the original to a temporary folder (checking its SHA-256
on the way), transcodes it with PyAV (``webapp.media.recording``: a fresh MP4 with no metadata of
the original, so a phone's recording place never reaches the public), and stores:

- audio: ``audio`` (AAC in MP4), ``peaks`` (waveform peaks, JSON for the player) and
  ``waveform`` (a small PNG for lists);
- video: ``video`` (H.264/AAC MP4, 720p at most), and from a still frame, through the image
  pipeline, ``poster`` (JPEG) with ``thumb`` and ``square`` (WebP) for lists.

Like the image job it is idempotent (deterministic keys; a ``ready`` media with every object
present is left alone), a transient error raises so RQ retries, and a permanent one (a file
FFmpeg cannot convert, a time or memory limit) marks the media ``failed`` with a reason for
people. Unlike it, the work does not run inside one database transaction: a conversion can take
minutes, so the job reads what it needs, works with no transaction open, writes its progress
(``media_assets.progress``, 0-100, read by the status page) in small units of work of its own,
and records the outcome in a last one. This module must never modify an original.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from dataclasses import dataclass

from rq.timeouts import JobTimeoutException

from webapp import reasons
from webapp.extensions import db
from webapp.media.imaging import DerivativeSpec, ImageRejected, build_derivatives
from webapp.media.keys import derivative_key
from webapp.media.recording import (
    RecordingRejected,
    peaks_json,
    transcode_audio,
    transcode_video,
    waveform_png,
)
from webapp.models import MediaAsset, MediaKind, MediaState
from webapp.services import backends, outbox
from webapp.unit_of_work import unit_of_work
from workers.context import app_context
from workers.images import record_failure

log = logging.getLogger(__name__)

#: The poster and the list images of a video, made by the image pipeline from a still frame.
POSTER_SPECS: tuple[DerivativeSpec, ...] = (
    DerivativeSpec("poster", 1280, format="JPEG", quality=82),
    DerivativeSpec("thumb", 256, format="WEBP", quality=80, effort=4),
    DerivativeSpec("square", 256, square=True, format="WEBP", quality=80, effort=4),
)

#: Progress is written at most this often (seconds), so a long job does not hammer the database.
PROGRESS_INTERVAL = 2.0
COPY_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class _Subject:
    media_id: int
    story_id: int
    kind: str
    original_key: str
    sha256: str
    recorded: tuple[str, ...]


@dataclass(frozen=True)
class _Written:
    name: str
    key: str
    mime: str
    size: int
    width: int | None = None
    height: int | None = None

    def entry(self) -> dict:
        return {
            "key": self.key,
            "mime": self.mime,
            "width": self.width,
            "height": self.height,
            "bytes": self.size,
        }


def _already_done(media: MediaAsset, store) -> bool:
    return (
        media.state == MediaState.READY
        and bool(media.derivatives)
        and all(store.exists(d["key"]) for d in media.derivatives.values())
    )


def derive_recording(media_id: int, force: bool = False) -> str:
    """Build and store the playable derivatives of recording ``media_id``; say what happened."""
    with app_context():
        subject = _start(media_id, force)
        if isinstance(subject, str):
            return subject
        store = backends.object_store()
        with tempfile.TemporaryDirectory(prefix=f"passages-rec{media_id}-") as work:
            source = os.path.join(work, "original")
            if not _copy_original(store, subject, source):
                return _finish_failed(media_id, reasons.encode("fixity"))
            try:
                written = _convert(store, subject, source, work)
            except RecordingRejected as exc:
                return _finish_failed(media_id, reasons.of(exc))
            except ImageRejected as exc:
                return _finish_failed(
                    media_id, reasons.encode("poster_failed", cause=reasons.of(exc))
                )
            except MemoryError:
                limit = backends.settings().job_memory_mb
                return _finish_failed(media_id, reasons.encode("job_memory", mb=limit))
            except JobTimeoutException:
                return _finish_failed(media_id, reasons.encode("job_timeout"))
        return _finish_ready(media_id, subject, written, store)


def _start(media_id: int, force: bool) -> _Subject | str:
    with unit_of_work():
        media = db.session.get(MediaAsset, media_id)
        if media is None:
            log.info("media %s no longer exists; nothing to derive", media_id)
            return "gone"
        if media.kind not in (MediaKind.AUDIO.value, MediaKind.VIDEO.value):
            log.warning("media %s is an image, not a recording; left to the image job", media_id)
            return "not a recording"
        if not force and _already_done(media, backends.object_store()):
            return "already done"
        media.progress = 0
        return _Subject(
            media_id=media.id,
            story_id=media.story_id,
            kind=media.kind,
            original_key=media.original_key,
            sha256=media.sha256,
            recorded=tuple(d["key"] for d in (media.derivatives or {}).values()),
        )


def _copy_original(store, subject: _Subject, destination: str) -> bool:
    """Copy the original to a local file in pieces; return whether it still has its SHA-256."""
    digest = hashlib.sha256()
    with store.open(subject.original_key) as stream, open(destination, "wb") as out:
        while chunk := stream.read(COPY_CHUNK):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest() == subject.sha256


class _Progress:
    """Writes the job's progress to the media row, in its own small unit of work."""

    def __init__(self, media_id: int) -> None:
        self.media_id = media_id
        self.last_write = 0.0
        self.last_value = 0

    def __call__(self, fraction: float) -> None:
        value = min(99, int(fraction * 100))
        now = time.monotonic()
        if value <= self.last_value or now - self.last_write < PROGRESS_INTERVAL:
            return
        self.last_write, self.last_value = now, value
        try:
            with unit_of_work():
                media = db.session.get(MediaAsset, self.media_id)
                if media is not None:
                    media.progress = value
        except Exception:  # noqa: BLE001 - progress is a courtesy; the conversion goes on
            log.warning("media %s: could not record progress", self.media_id, exc_info=True)


def _convert(store, subject: _Subject, source: str, work: str) -> list[_Written]:
    progress = _Progress(subject.media_id)
    output = os.path.join(work, "out.mp4")
    written: list[_Written] = []
    if subject.kind == MediaKind.AUDIO.value:
        result = transcode_audio(source, output, on_progress=progress)
        written.append(_put_file(store, subject, "audio", "m4a", "audio/mp4", output))
        written.append(_put_bytes(store, subject, "peaks", "json", "application/json",
                                  peaks_json(result.peaks)))  # fmt: skip
        written.append(
            _put_bytes(store, subject, "waveform", "png", "image/png", waveform_png(result.peaks))
        )
        return written
    result = transcode_video(source, output, on_progress=progress)
    written.append(
        _put_file(store, subject, "video", "mp4", "video/mp4", output, result.width, result.height)
    )
    for image in build_derivatives(result.poster, POSTER_SPECS):
        written.append(
            _put_bytes(
                store,
                subject,
                image.name,
                image.ext,
                image.mime,
                image.data,
                image.width,
                image.height,
            )  # fmt: skip
        )
    return written


def _put_file(store, subject: _Subject, name: str, ext: str, mime: str, path: str,
              width: int | None = None, height: int | None = None) -> _Written:  # fmt: skip
    """Stream a converted file to storage (never read whole into memory)."""
    key = derivative_key(subject.media_id, name, ext)
    size = os.path.getsize(path)
    with open(path, "rb") as stream:
        store.put(key, stream, content_type=mime, length=size)
    return _Written(name, key, mime, size, width, height)


def _put_bytes(store, subject: _Subject, name: str, ext: str, mime: str, data: bytes,
               width: int | None = None, height: int | None = None) -> _Written:  # fmt: skip
    key = derivative_key(subject.media_id, name, ext)
    store.put(key, data, content_type=mime)
    return _Written(name, key, mime, len(data), width, height)


def _finish_ready(media_id: int, subject: _Subject, written: list[_Written], store) -> str:
    with unit_of_work() as uow:
        media = db.session.get(MediaAsset, media_id)
        if media is None:  # erased while we worked: what we wrote is nobody's
            uow.after_commit(lambda: _delete(store, media_id, {w.key for w in written}))
            return "gone"
        media.derivatives = {w.name: w.entry() for w in written}
        media.state = MediaState.READY.value
        media.failure_reason = None
        media.progress = 100
        video = next((w for w in written if w.name == "video"), None)
        if video is not None and media.width is None:
            media.width, media.height = video.width, video.height
        outbox.emit("media.derived", {"media_id": media.id, "story_id": media.story_id})
        stale = set(subject.recorded) - {w.key for w in written}
        uow.after_commit(lambda: _delete(store, media_id, stale))
    log.info("media %s: recording converted, %d derivatives written", media_id, len(written))
    return "derived"


def _finish_failed(media_id: int, reason: str) -> str:
    with unit_of_work():
        media = db.session.get(MediaAsset, media_id)
        if media is None:
            return "gone"
        media.progress = None
        return record_failure(media, reason)


def _delete(store, media_id: int, keys: set[str]) -> None:
    for key in keys:
        store.delete(key)
    if keys:
        log.info("media %s: %d stale derivative(s) removed", media_id, len(keys))
