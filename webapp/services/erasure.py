"""Takedown requests and GDPR erasure.

Anyone may ask for a story to be removed (``request_takedown``); an archivist then withdraws it
(``review.withdraw``: off the public site within seconds, original kept under restricted access)
or, when erasure is asked for, erases it (``erase_story``): the story, its media rows, originals no
other story uses, derivatives, the IIIF images cached from them, recordings' transcripts, index
points and consent records, and notifications are deleted; the ``story.erased`` event has the
search worker drop its index entry (one index writer, see DESIGN.md), and the audit log keeps
only *that* it happened — notes and edit details about the story are blanked. This module must
never keep a copy of erased content, not even in a log line, and never commits: the caller's
unit of work does, and only then are the objects deleted (``uow.after_commit``).
"""

from __future__ import annotations

import logging

from flask_babel import gettext

from webapp.errors import BadRequest, NotFound
from webapp.extensions import db
from webapp.models import (
    AuditEntry,
    CollectionItem,
    DossierDocument,
    MediaAsset,
    Notification,
    OutboxEvent,
    ProjectWork,
    Story,
    TakedownRequest,
    User,
    utcnow,
)
from webapp.services import access, audit, backends, documents, outbox, transcripts
from webapp.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


def request_takedown(
    uow: UnitOfWork,
    story_id: int | None,
    reason: str,
    *,
    requester: User | None,
    name: str = "",
    contact: str = "",
    erasure: bool = False,
) -> TakedownRequest:
    """Record a removal request. Anonymous requests are welcome; nothing is removed yet."""
    reason = (reason or "").strip()
    if not reason:
        raise BadRequest(gettext("tell us briefly why the story should be removed"), field="reason")
    if story_id is not None and db.session.get(Story, story_id) is None:
        # Accepted like any other request (an archivist reads it), so the answer never tells
        # which story numbers exist; the number asked about stays in the reason.
        reason = f"[story #{story_id}, not found] {reason}"
        story_id = None
    row = TakedownRequest(
        story_id=story_id,
        reason=reason[:5000],
        requester_name=(name or "").strip()[:200],
        contact=(contact or "").strip()[:320],
        erasure_requested=bool(erasure),
        requested_by_id=requester.id if requester else None,
    )
    uow.add(row)
    uow.flush()
    audit.record(
        "takedown.requested",
        "takedown",
        row.id,
        actor=requester,
        details={"story_id": story_id, "erasure": bool(erasure)},
    )
    log.info("takedown request %s for story %s", row.id, story_id)
    return row


def open_requests() -> list[TakedownRequest]:
    return db.session.scalars(
        db.select(TakedownRequest)
        .where(TakedownRequest.state == "open")
        .order_by(TakedownRequest.created_at, TakedownRequest.id)
    ).all()


def close_request(
    uow: UnitOfWork, request_id: int, state: str, actor: User | None
) -> TakedownRequest:
    access.require_archivist(actor)
    if state not in ("done", "declined"):
        raise BadRequest(gettext("state must be done or declined"), field="state")
    row = db.session.get(TakedownRequest, request_id)
    if row is None:
        raise NotFound(gettext("no such request"))
    row.state = state
    row.handled_by_id = actor.id
    row.handled_at = utcnow()
    audit.record(f"takedown.{state}", "takedown", row.id, actor=actor)
    return row


def erase_story(uow: UnitOfWork, story_id: int, actor: User | None) -> dict[str, int]:
    """Delete a story and everything derived from it; return what was removed (counts only).

    The objects are deleted once the erasure is committed (never before: a rolled-back erasure
    must leave the story whole); the ``story.erased`` event's job deletes what that first try
    could not reach, with retries.
    """
    access.require_archivist(actor)
    story = db.session.get(Story, story_id, with_for_update=True)
    if story is None:
        raise NotFound(gettext("no such story"))
    media = list(story.media)
    media_ids = [m.id for m in media]
    keys = [d["key"] for m in media for d in (m.derivatives or {}).values() if d.get("key")]
    shas = {m.sha256: m.original_key for m in media}
    db.session.execute(db.delete(Notification).where(Notification.story_id == story_id))
    db.session.execute(db.delete(CollectionItem).where(CollectionItem.story_id == story_id))
    # Teaching: an erased document leaves its dossiers; an erased response leaves its project
    # work (the student's row stays, "not started" again), an erased document its assignments.
    db.session.execute(db.delete(DossierDocument).where(DossierDocument.story_id == story_id))
    for column in (ProjectWork.story_id, ProjectWork.document_id):
        db.session.execute(db.update(ProjectWork).where(column == story_id).values({column: None}))
    documents.forget_links(story_id)
    for row in db.session.scalars(
        db.select(TakedownRequest).where(TakedownRequest.story_id == story_id)
    ):
        row.reason = "[erased]"
        row.story_id = None
        if row.state == "open":
            row.state, row.handled_by_id, row.handled_at = "done", actor.id, utcnow()
    for entry in db.session.scalars(
        db.select(AuditEntry).where(
            AuditEntry.subject_type == "story", AuditEntry.subject_id == story_id
        )
    ):
        entry.note = None
        entry.details = {}
    _scrub_outbox_notes(story_id)
    # What was said in the recordings goes with them (the index entry goes with story.erased).
    transcripts.delete_for_media(media_ids)
    db.session.delete(story)
    uow.flush()
    still_used = set(
        db.session.scalars(
            db.select(MediaAsset.sha256).where(MediaAsset.sha256.in_(list(shas)))
        ).all()
    )
    originals = [key for sha, key in shas.items() if sha not in still_used]
    counts = {"images": len(media_ids), "originals": len(originals), "derivatives": len(keys)}
    audit.record("story.erased", "story", story_id, actor=actor, details=counts)
    outbox.emit(
        "story.erased",
        {"story_id": story_id, "actor_id": actor.id, "object_keys": [*keys, *originals]},
    )
    uow.after_commit(lambda: _delete_objects(story_id, [*keys, *originals]))
    uow.after_commit(lambda: _purge_iiif_cache(story_id))
    log.info("story %s erased (%s); commits with the action", story_id, counts)
    return counts


def _delete_objects(story_id: int, keys: list[str]) -> None:
    """First try at deleting an erased story's objects, right after the commit.

    Each one under its key's claim (``webapp.operations.claims``): an original that someone is
    handing in again at this very moment is kept (the same bytes share one object).
    """
    from datetime import UTC, datetime, timedelta

    from webapp.operations.collector import delete_if_unreferenced

    store = backends.object_store()
    any_age = datetime.now(UTC) + timedelta(days=1)
    for key in keys:
        try:
            delete_if_unreferenced(key, any_age, store=store)
        except Exception:  # the story.erased event's job deletes it later, with retries
            log.exception("erasure of story %s: could not delete an object yet", story_id)


def _purge_iiif_cache(story_id: int) -> None:
    """First try at deleting the IIIF images cached for the erased story (the ``story.erased``
    job's purge is the guarantee)."""
    from webapp.services.iiif import purge_story_cache

    try:
        purge_story_cache(story_id)
    except Exception:
        log.exception("erasure of story %s: could not delete cached IIIF images yet", story_id)


def _scrub_outbox_notes(story_id: int) -> None:
    """Events keep the moderators' notes in their payload; blank those about this story.

    Found by the indexed ``story_id`` column (set by ``outbox.emit``), not by reading every event.
    """
    events = db.session.scalars(db.select(OutboxEvent).where(OutboxEvent.story_id == story_id))
    for event in events:
        payload = event.payload or {}
        if payload.get("note"):
            event.payload = {**payload, "note": None}
