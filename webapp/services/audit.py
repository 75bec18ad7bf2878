"""Append to the audit log inside the caller's unit of work (who did what, when, to what), and
read a story's history back for the pages that show it. Never commits."""

from __future__ import annotations

from typing import Any

from webapp.extensions import db
from webapp.models import AuditEntry, User

#: The moves whose note is written to the story's author (shown on "my story").
AUTHOR_FEEDBACK = ("story.return", "story.request_changes", "story.reject")


def record(
    action: str,
    subject_type: str,
    subject_id: int,
    *,
    actor: User | None,
    note: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        actor_id=actor.id if actor else None,
        note=note,
        details=details or {},
    )
    db.session.add(entry)
    return entry


def story_history(story_id: int, *, moves_only: bool = False) -> list[AuditEntry]:
    """A story's audit entries, oldest first. ``moves_only`` keeps the ``story.*`` moves shown
    to whoever holds the status link (teachers' and archivists' comments included; the page
    leaves staff names out)."""
    query = db.select(AuditEntry).where(
        AuditEntry.subject_type == "story", AuditEntry.subject_id == story_id
    )
    if moves_only:
        query = query.where(AuditEntry.action.like("story.%"))
    return db.session.scalars(query.order_by(AuditEntry.at, AuditEntry.id)).all()


def feedback_for_author(story_id: int) -> list[AuditEntry]:
    """The notes moderators wrote to the author (return, changes requested, rejection), oldest
    first — what the author sees on their story's page; other entries stay with staff."""
    return [e for e in story_history(story_id) if e.action in AUTHOR_FEEDBACK]
