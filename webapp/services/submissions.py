"""Accept a story with its images and recordings: validate everything, store originals, add the
rows to the caller's unit of work.

Order matters. Every check (schema, period, each image's content and size) runs before anything
is written. Originals are then stored content-addressed, and the story, its media rows, its audit
entry and its ``story.submitted`` event are added to the caller's unit of work, which commits them
in one transaction. Each object this call writes registers a rollback compensation
(``uow.on_rollback``): if the action fails anywhere — here, in the view after us, or in the commit
itself — the objects are removed again unless a committed row uses them. Originals are shared
by content, so the removal and this submission both take the key's claim first
(``webapp.operations.claims``): a failed submission can never delete an original that a
concurrent submission of the same bytes is about to commit. A cleanup that could not run (the
process was killed, storage was down) is retried by the scheduled leftover collector
(``webapp.operations.collector``) until done.

The consent of each person heard or seen in a recording (``recording_consents``, one entry per
file) is written with the media rows, in the same unit of work.

A draft ("save as draft" on the form) is created as a draft: no ``story.submitted`` event, no
jobs, no "was handed in" message. Handing it in later is the workflow's ``submit`` move.

This module never commits and never enqueues jobs.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from flask_babel import gettext

from schemas import FieldError, validate_story_metadata
from webapp import reasons
from webapp.errors import BadRequest, PayloadTooLarge, UploadRejected, ValidationFailed
from webapp.extensions import db
from webapp.media.imaging import ImageRejected, UnsupportedFormat, inspect_image
from webapp.media.keys import original_key
from webapp.media.recording import (
    NotARecording,
    RecordingRejected,
    RecordingTooLong,
    looks_like_recording,
    probe_recording,
)
from webapp.models import MediaAsset, MediaKind, Story, StoryKind, StoryStatus, User
from webapp.operations import claims
from webapp.periods import canonical_language_tag, parse_period
from webapp.services import audit, backends, consent, documents, notifications, outbox
from webapp.unit_of_work import UnitOfWork
from webapp.uploads import known_sha256

log = logging.getLogger(__name__)

HASH_CHUNK = 1024 * 1024


@dataclass
class IncomingImage:
    """One uploaded file as the view received it (a seekable stream, e.g. Werkzeug's spool).

    Despite the name (kept for its many callers) it may hold an image, an audio or a video
    recording: what it is is recognised from its content by :func:`check_files`.
    """

    filename: str
    stream: BinaryIO


#: The general name: a file handed in with a story.
IncomingFile = IncomingImage


@dataclass
class _CheckedImage:
    incoming: IncomingImage
    sha256: str
    size: int
    mime: str
    width: int | None
    height: int | None
    kind: str = MediaKind.IMAGE.value
    duration: float | None = None


def _display_name(image: IncomingImage, index: int) -> str:
    name = os.path.basename(image.filename or "").strip()
    return name or gettext("file %(number)s", number=index + 1)


def _size_of(stream: BinaryIO) -> int:
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    return size


def _sha256_of(stream: BinaryIO) -> str:
    known = known_sha256(stream)  # hashed while the request body was spooled
    if known is not None:
        return known
    digest = hashlib.sha256()
    stream.seek(0)
    while chunk := stream.read(HASH_CHUNK):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def check_metadata(metadata: Any) -> dict[str, Any]:
    """Validate against ``schemas/story.schema.json`` plus the rules a schema cannot say."""
    problems = validate_story_metadata(metadata)
    if problems:
        raise ValidationFailed(problems)
    cleaned = dict(metadata)
    if cleaned.get("period", "").strip():
        try:
            period = parse_period(cleaned["period"])
        except ValueError as exc:
            raise ValidationFailed([FieldError("period", str(exc))]) from exc
        cleaned["_period"] = period
    cleaned["language"] = canonical_language_tag(cleaned["language"])
    cleaned["places"] = _dedupe_stripped(cleaned.get("places", []))
    cleaned["themes"] = _dedupe_stripped(cleaned.get("themes", []))
    cleaned["title"] = cleaned["title"].strip()
    cleaned["kind"] = cleaned.get("kind") or StoryKind.STORY.value
    if cleaned["kind"] == StoryKind.DOCUMENT.value:
        cleaned["source"] = documents.clean_source(cleaned.get("source"))
        if cleaned.get("responds_to"):
            raise documents.document_cannot_respond()
    elif "source" in cleaned:
        raise documents.source_only_for_documents()
    return cleaned


def _dedupe_stripped(values: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for value in values:
        text = " ".join(value.split())
        seen.setdefault(text.casefold(), text)
    return list(seen.values())


def check_images(images: Sequence[IncomingImage]) -> list[_CheckedImage]:
    """Check every file (image or recording); kept under its old name for its callers."""
    return check_files(images)


def check_files(files: Sequence[IncomingFile]) -> list[_CheckedImage]:
    """Recognise each file by its content (never its name or declared type) and check its size.

    Images go through ``webapp.media.imaging``; a file that is not an image is probed as an
    audio or video recording (``webapp.media.recording``), whose duration is checked too.
    """
    settings = backends.settings()
    checked = [_check_file(file, index, settings) for index, file in enumerate(files)]
    images = sum(1 for item in checked if item.kind == MediaKind.IMAGE.value)
    recordings = len(checked) - images
    if images > settings.max_images:
        raise ValidationFailed(
            [
                FieldError(
                    "images",
                    gettext(
                        "too many images: %(count)s, at most %(limit)s",
                        count=images,
                        limit=settings.max_images,
                    ),
                )
            ]  # fmt: skip
        )
    if recordings > settings.max_recordings:
        raise ValidationFailed(
            [
                FieldError(
                    "files",
                    gettext(
                        "too many recordings: %(count)s, at most %(limit)s",
                        count=recordings,
                        limit=settings.max_recordings,
                    ),  # fmt: skip
                )
            ]
        )
    return checked


def _check_file(file: IncomingFile, index: int, settings) -> _CheckedImage:
    name = _display_name(file, index)
    size = _size_of(file.stream)
    if size == 0:
        raise UploadRejected(_named(name, reasons.encode("empty_file")), field="images")
    largest = max(settings.max_upload_bytes, settings.max_recording_bytes)
    if size > largest:
        raise PayloadTooLarge(
            gettext(
                "%(name)s: the file is %(size)s MB, the limit is %(image)s MB per image and "
                "%(recording)s MB per audio or video recording",
                name=name,
                size=f"{size / 1048576:.1f}",
                image=settings.max_upload_mb,
                recording=settings.max_recording_mb,
            ),
            field="images",
        )
    image_problem: ImageRejected | None = None
    if size <= settings.max_upload_bytes:
        try:
            facts = inspect_image(file.stream, max_pixels=settings.max_image_pixels)
        except UnsupportedFormat as exc:
            image_problem = exc  # perhaps a recording: probed below
        except ImageRejected as exc:
            raise UploadRejected(_named(name, reasons.of(exc)), field="images") from exc
        else:
            return _CheckedImage(
                incoming=file,
                sha256=_sha256_of(file.stream),
                size=size,
                mime=facts.mime,
                width=facts.width,
                height=facts.height,
            )
        finally:
            file.stream.seek(0)
    return _check_recording(file, name, size, settings, image_problem)


def _named(name: str, reason: str) -> str:
    """A refused file's name and why, in the reader's language (``reason``: a stored code)."""
    return gettext("%(name)s: %(reason)s", name=name, reason=reasons.words(reason))


def _check_recording(
    file: IncomingFile, name: str, size: int, settings, image_problem: ImageRejected | None
) -> _CheckedImage:
    limit = settings.max_recording_minutes * 60
    try:
        facts = probe_recording(file.stream, max_seconds=limit)
    except NotARecording as exc:
        file.stream.seek(0)
        unreadable = exc.code in ("not_a_recording", "unreadable_recording")
        if unreadable and looks_like_recording(file.stream.read(16)):  # a broken MP3, WAV…
            raise UploadRejected(
                gettext(
                    "%(name)s: this recording is damaged or incomplete, it cannot be played. "
                    "Copy or export it again from the device that recorded it and send it again.",
                    name=name,
                ),
                field="images",
            ) from exc
        if image_problem is None:  # too large to be an image, and not a recording either
            raise PayloadTooLarge(
                gettext(
                    "%(name)s: the file is %(size)s MB, the limit is %(image)s MB per image (and "
                    "it is not an audio or video recording, which may be larger)",
                    name=name,
                    size=f"{size / 1048576:.1f}",
                    image=settings.max_upload_mb,
                ),
                field="images",
            ) from exc
        raise UploadRejected(
            gettext(
                "%(name)s: not an image, audio or video file that can be accepted (%(reason)s). "
                "Accepted: photographs and scans (JPEG, PNG, WebP, HEIC…), audio (MP3, WAV, "
                "M4A/AAC, Ogg/Opus, FLAC) and video (MP4, MOV, WebM)",
                name=name,
                reason=reasons.words(reasons.of(image_problem)),
            ),
            field="images",
        ) from exc
    except RecordingTooLong as exc:
        raise PayloadTooLarge(_named(name, reasons.of(exc)), field="images") from exc
    except RecordingRejected as exc:
        raise UploadRejected(_named(name, reasons.of(exc)), field="images") from exc
    finally:
        file.stream.seek(0)
    if size > settings.max_recording_bytes:
        raise PayloadTooLarge(
            gettext(
                "%(name)s: the file is %(size)s MB, the limit is %(recording)s MB per audio or "
                "video recording",
                name=name,
                size=f"{size / 1048576:.1f}",
                recording=settings.max_recording_mb,
            ),
            field="images",
        )
    return _CheckedImage(
        incoming=file,
        sha256=_sha256_of(file.stream),
        size=size,
        mime=facts.mime,
        width=facts.width,
        height=facts.height,
        kind=facts.kind,
        duration=facts.duration,
    )


def submit_story(
    uow: UnitOfWork,
    metadata: Any,
    images: Sequence[IncomingImage],
    *,
    submitter: User | None,
    persons_identifiable: bool = False,
    as_draft: bool = False,
    check_kinds: Callable[[list[str]], None] | None = None,
    shared_recording_consent: dict | None = None,
) -> Story:
    """Validate, store and add a new story to ``uow``; return it (``submitted``, or ``draft``).

    A student's story belongs to their class from the first commit, so their teacher's queue and
    the guardian-consent rule apply whichever way it was sent (form or API). A draft needs an
    owner: nobody else could ever find it again. ``shared_recording_consent`` is the form's
    one consent section (no JavaScript), for the story's single recording.
    """
    if as_draft and submitter is None:
        raise BadRequest(gettext("sign in to keep a draft; without an account, hand the story in"))
    cleaned = check_metadata(metadata)
    if cleaned["kind"] == StoryKind.DOCUMENT.value:
        documents.require_document_author(submitter)
    # Checked before anything is stored; linked once the story has its id.
    documents.check_respondable(cleaned.get("responds_to", []))
    checked = check_images(images)
    if check_kinds is not None:  # the caller's own rule on what was recognised (the form's)
        check_kinds([item.kind for item in checked])
    consents = consent.upload_consent_entries(
        [item.kind for item in checked],
        cleaned.get("recording_consents", []),
        shared_recording_consent,
    )
    store = backends.object_store()
    # Claimed before anything is written and held until the action ends: the collector (and a
    # concurrent submission's compensation) waits for us before it may delete one of these.
    claims.claim(uow, [original_key(item.sha256) for item in checked], "submission")
    for item in checked:
        key = original_key(item.sha256)
        if not store.exists(key):
            # Registered before the write: a write that fails half-way is removed as well.
            uow.on_rollback(lambda key=key: _remove_unless_committed(store, key))
            item.incoming.stream.seek(0)
            store.put(key, item.incoming.stream, content_type=item.mime, length=item.size)
    story = _story_from(cleaned, submitter, as_draft=as_draft)
    story.persons_identifiable = persons_identifiable
    uow.add(story)
    alt_texts = cleaned.get("alt_texts", [])
    for position, item in enumerate(checked):
        story.media.append(
            MediaAsset(
                position=position,
                original_key=original_key(item.sha256),
                sha256=item.sha256,
                mime_type=item.mime,
                byte_size=item.size,
                width=item.width,
                height=item.height,
                kind=item.kind,
                duration=item.duration,
                original_filename=_display_name(item.incoming, position)[:255],
                alt_text=alt_texts[position] if position < len(alt_texts) else "",
            )
        )
    uow.flush()
    # The consent of the people heard or seen commits with their recordings, or not at all.
    consent.record_upload_consents(uow, story, consents, submitter)
    if cleaned.get("responds_to"):
        documents.link_responses(uow, story.id, cleaned["responds_to"])
    if as_draft:
        audit.record("story.draft_saved", "story", story.id, actor=submitter)
        log.info("story %s saved as a draft with %d image(s)", story.id, len(checked))
        return story
    outbox.emit(
        "story.submitted",
        {"story_id": story.id, "media_ids": [m.id for m in story.media]},
    )
    audit.record("story.submitted", "story", story.id, actor=submitter)
    notifications.story_moved(story, "submit", None, submitter)
    log.info("story %s handed in with %d image(s); commits with the action", story.id, len(checked))
    return story


def _story_from(cleaned: dict[str, Any], submitter: User | None, *, as_draft: bool) -> Story:
    period = cleaned.get("_period")
    extra = {
        key: cleaned[key]
        for key in ("credit", "contributor_name", "summary")
        if cleaned.get(key, "").strip()
    }
    story = Story(
        kind=cleaned["kind"],
        title=cleaned["title"],
        body=cleaned.get("body", ""),
        language=cleaned["language"],
        places=cleaned["places"],
        period=period.text if period else None,
        period_start=period.start if period else None,
        period_end=period.end if period else None,
        themes=cleaned["themes"],
        licence=cleaned["licence"],
        consent=cleaned["consent"],
        extra=extra,
        status=(StoryStatus.DRAFT if as_draft else StoryStatus.SUBMITTED).value,
        submitted_by=submitter,
        organisation_id=submitter.organisation_id if submitter else None,
        class_id=submitter.class_id if submitter else None,
    )
    if "source" in cleaned:
        documents.apply_source(story, cleaned["source"])
    return story


def _remove_unless_committed(store: Any, key: str) -> None:
    """Rollback compensation: remove an original this action wrote, unless a row uses it.

    It takes the key's claim first (:mod:`webapp.operations.claims`), so a concurrent submission
    of the same bytes that is about to commit makes it wait and then keep the object. If it
    fails (storage down, process killed), the scheduled collector removes the object later.
    """
    from datetime import UTC, datetime, timedelta

    from webapp.operations.collector import delete_if_unreferenced

    # Any age: this action wrote the object a moment ago and nothing committed refers to it.
    delete_if_unreferenced(key, datetime.now(UTC) + timedelta(days=1), store=store)


def find_by_status_token(token: str) -> Story | None:
    """The story a private status link names, or ``None`` for a link that is not valid."""
    return db.session.scalar(db.select(Story).where(Story.status_token == token))
