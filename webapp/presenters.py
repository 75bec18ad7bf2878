"""Shape stories and media for the API and the pages (what a client sees, and URLs to it).

This module must never decide access on its own: whatever depends on who is asking (duplicates)
is asked of the services with the current person.
"""

from __future__ import annotations

from typing import Any

from flask import has_request_context, url_for

from webapp import labels, reasons
from webapp.iiif.presentation import has_manifest, image_service_url, manifest_url
from webapp.models import Collection, MediaAsset, Story, Transcript, User
from webapp.services import documents, transcripts
from webapp.services.duplicates import Duplicate, duplicates_for_story


def derivative_urls(media: MediaAsset, status_token: str | None = None) -> dict[str, str]:
    extra = {"t": status_token} if status_token else {}
    return {
        name: url_for("public.derivative", media_id=media.id, name=name, _external=True, **extra)
        for name in sorted(media.derivatives or {})
    }


def media_json(
    media: MediaAsset,
    status_token: str | None = None,
    duplicates: list[Duplicate] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": media.id,
        "kind": media.kind,
        "state": media.state,
        "width": media.width,
        "height": media.height,
        "mime_type": media.mime_type,
        "bytes": media.byte_size,
        "sha256": media.sha256,
        "alt_text": media.alt_text,
        "derivatives": derivative_urls(media, status_token) if media.state == "ready" else {},
    }
    if media.is_recording:
        body["duration"] = media.duration
        if media.state == "pending" and media.progress is not None:
            body["progress"] = media.progress
    elif media.state == "ready" and media.story.is_public:
        body["iiif"] = image_service_url(media.id)
    if media.failure_reason:  # words for people, in the caller's language; the code for programs
        body["failure_reason"] = reasons.words(media.failure_reason)
        body["failure_code"] = reasons.code_of(media.failure_reason)
    if duplicates is not None:
        body["duplicate_of"] = [d.as_json() for d in duplicates]
    if transcripts.is_recording(media):
        body["transcripts"] = [
            {"language": t.language, "url": transcript_url(t)}
            for t in transcripts.transcripts_of(media.id)
        ]
    return body


def transcript_url(transcript: Transcript) -> str:
    """The public WebVTT of a transcript (it answers only while the story is public)."""
    return url_for(
        "recordings.transcript_vtt",
        media_id=transcript.media_id,
        language=transcript.language,
        _external=True,
    )


def transcript_json(transcript: Transcript) -> dict[str, Any]:
    """The API's answer about one transcript: its recording, language, cue count and address."""
    return {
        "media": transcript.media_id,
        "language": transcript.language,
        "cues": transcript.cue_count,
        "url": transcript_url(transcript),
    }


def _current_viewer() -> User | None:
    if not has_request_context():
        return None
    from webapp.auth import current_person

    return current_person()


def collection_json(collection: Collection) -> dict[str, Any]:
    """The API's collection document for archivists: drafts too, every member in order (with
    its status: a member that is not published is not shown to the public)."""
    items = sorted(collection.items, key=lambda i: (i.position, i.id))
    return {
        "id": collection.id,
        "slug": collection.slug,
        "url": url_for("public.collection", slug=collection.slug, _external=True),
        "title": collection.title,
        "introduction": collection.introduction,
        "published": collection.published,
        "featured": collection.featured,
        "story_ids": [item.story_id for item in items],
        "stories": [{**_linked(item.story), "status": item.story.status} for item in items],
    }


def _linked(story: Story) -> dict[str, Any]:
    """A story named from another one: id, title and its public address (``None`` while it is
    not public — only the author and staff ever see such a link)."""
    return {
        "id": story.id,
        "title": story.title,
        "url": url_for("public.story", story_id=story.id, _external=True)
        if story.is_public
        else None,
    }


def story_json(
    story: Story, *, include_private: bool = False, viewer: User | None = None
) -> dict[str, Any]:
    """The API's story document. ``viewer`` defaults to the person making the current request;
    media carry ``duplicate_of`` only when that person is staff or the submitter."""
    token = story.status_token if include_private and not story.is_public else None
    viewer = viewer if viewer is not None else _current_viewer()
    duplicates = duplicates_for_story(story, viewer) if include_private else {}
    body: dict[str, Any] = {
        "id": story.id,
        "status": story.status,
        "title": story.title,
        "language": story.language,
        "places": story.places,
        "period": story.period,
        "themes": story.themes,
        "licence": story.licence,
        "url": url_for("public.story", story_id=story.id, _external=True)
        if story.is_public
        else None,
        "media": [media_json(m, token, duplicates.get(m.id)) for m in story.media],
    }
    body["kind"] = story.kind
    if story.is_document:
        body["source"] = documents.source_json(story)
        body["citation"] = documents.citation(story)
        body["responses"] = [_linked(response) for response in documents.published_responses(story)]
    else:
        body["responds_to"] = [
            _linked(document)
            for document in documents.responded_documents(story, public_only=not include_private)
        ]
    if has_manifest(story):
        body["manifest"] = manifest_url(story.id)
    if include_private:
        body["status_url"] = url_for("submit.status", token=story.status_token, _external=True)
    return body


def _media_kind(media: MediaAsset) -> str:
    """``image``, ``audio`` or ``video``: an explicit ``kind`` column wins, else the MIME type."""
    kind = getattr(media, "kind", None)
    if kind:
        return str(kind)
    major = (media.mime_type or "").split("/", 1)[0]
    return major if major in ("audio", "video") else "image"


def media_state_label(state: str, progress: int | None = None) -> str:
    """A media item's processing state in the reader's language (pages and the JSON agree);
    a recording being converted says how far it is."""
    if state == "pending" and progress is not None:
        from flask_babel import pgettext

        return pgettext("media state", "being prepared: %(percent)s %%", percent=progress)
    return labels.label(state, "media")


def media_states(story: Story, status_token: str | None = None) -> dict[str, Any]:
    """Each media item's processing state and its thumbnail once it exists, for pages that poll.

    Generic over media items (images, recordings): a ``thumb`` derivative, or a ``poster`` frame
    for a video, is the picture shown; an item without one is still listed with its state. The
    caller has already applied the page's access rule; ``status_token`` goes into the thumbnail
    URLs so a private story's pictures load for the holder of its status link.
    """
    items = []
    counts = {"pending": 0, "ready": 0, "failed": 0}
    for media in story.media:
        counts[media.state] = counts.get(media.state, 0) + 1
        derivatives = media.derivatives or {}
        picture = next((n for n in ("thumb", "poster") if n in derivatives), None)
        thumbnail = None
        if media.state == "ready" and picture is not None:
            extra = {"t": status_token} if status_token else {}
            thumbnail = {
                "url": url_for("public.derivative", media_id=media.id, name=picture, **extra),
                "width": derivatives[picture].get("width"),
                "height": derivatives[picture].get("height"),
            }
        items.append(
            {
                "id": media.id,
                "kind": _media_kind(media),
                "state": media.state,
                "state_label": media_state_label(media.state, media.progress),
                "progress": media.progress,
                "filename": media.original_filename,
                "alt_text": media.alt_text,
                "failure_reason": reasons.words(media.failure_reason) or None,
                "failure_code": reasons.code_of(media.failure_reason),
                "thumbnail": thumbnail,
            }
        )
    return {
        "story_id": story.id,
        "done": counts.get("pending", 0) == 0,
        "counts": counts,
        "media": items,
    }
