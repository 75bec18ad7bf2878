"""Append to the audit log inside the caller's transaction: who did what, when, to what."""

from __future__ import annotations

from typing import Any

from webapp.extensions import db
from webapp.models import AuditEntry, User


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
