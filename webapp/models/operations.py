"""What operations keep in the database: object claims, idempotency records and check runs.

These rows serve the archive's safety, not its content: a claim serialises "this original is about
to be used" against "this original is unused and may be collected"; an idempotency record holds
the first answer to a request a client may retry; a check run holds what the last consistency
check found. Never commit from here (the unit of work does), and never put story content here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import utcnow


class ObjectClaim(db.Model):
    """A lock row for one object key, taken by whoever is about to reference or delete it.

    A submission upserts the claim of each original *before* writing the object and keeps the
    row locked until its transaction ends; the collector upserts the same row before it re-checks
    references and deletes. The database makes the second one wait for the first, so a collector
    can never delete an original between a concurrent submission's write and its commit.
    """

    __tablename__ = "object_claims"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_by: Mapped[str] = mapped_column(String(32), nullable=False, default="")


class IdempotencyRecord(db.Model):
    """The first answer to a request sent with an ``Idempotency-Key``, for 24 hours.

    Committed in the same transaction as what the request created, so either both exist or
    neither: a client that never saw the answer can retry and gets it, without a second story.
    """

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("caller", "key", name="uq_idempotency_caller_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``user:<id>`` for people who are signed in or hold a token, ``session:<random>`` otherwise.
    caller: Mapped[str] = mapped_column(String(80), nullable=False)
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    #: SHA-256 of the request (method, path, metadata, each image's SHA-256).
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    status_code: Mapped[int] = mapped_column(Integer, nullable=False)
    #: What to answer again: ``{"body": <JSON or text>, "headers": {...}}``.
    response: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    story_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )


class CheckRun(db.Model):
    """One run of ``passages check`` (by hand or scheduled): when, how, and every problem found."""

    __tablename__ = "check_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: ``cli``, ``scheduled`` or ``admin``.
    trigger: Mapped[str] = mapped_column(String(16), nullable=False)
    fixity: Mapped[bool] = mapped_column(default=False, nullable=False)
    repair: Mapped[bool] = mapped_column(default=False, nullable=False)
    #: ``{"objects": n, "originals_hashed": n, "media": n, "stories": n}``.
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    #: ``[{"kind", "subject", "detail", "repaired"}]``; empty means all is well.
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    error: Mapped[str | None] = mapped_column(Text)

    @property
    def ok(self) -> bool:
        return self.finished_at is not None and not self.error and not self.unrepaired

    @property
    def unrepaired(self) -> list[dict[str, Any]]:
        return [p for p in self.problems if not p.get("repaired")]
