"""What happened and what must follow: outbox events, the audit log and notifications."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import (
    utcnow,
)

if TYPE_CHECKING:  # relationship targets, resolved by name at run time
    from webapp.models.accounts import User


class OutboxEvent(db.Model):
    """An event written in the same transaction as the change that caused it.

    The relay moves unrelayed rows to RQ and stamps ``relayed_at``; until then the row is the only
    copy, so a Redis outage delays work but never loses it.
    """

    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    relayed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    #: The story the event is about (from the payload's ``story_id``), so erasure and audits
    #: find a story's events with an index instead of reading every event. No foreign key: the
    #: ``story.erased`` event outlives its story.
    story_id: Mapped[int | None] = mapped_column(Integer, index=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class AuditEntry(db.Model):
    """Who did what, when, to which record — kept even when the record's content is erased."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    subject_type: Mapped[str] = mapped_column(String(32), nullable=False)
    subject_id: Mapped[int] = mapped_column(Integer, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)

    actor: Mapped[User | None] = relationship()


class Notification(db.Model):
    """A message for one person, shown in the app (and mailed by ``workers.mail`` when the person
    has an e-mail address; ``emailed_at`` makes that job run at most once per row)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    emailed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
