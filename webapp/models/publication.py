"""What the public has been shown of each story: when it last changed, and whether it is gone.

One row per story that was ever published (``public_records``), kept by
``webapp.services.publication`` whoever changes a story. Its ``changed_at`` is the datestamp
harvesters (OAI-PMH), sitemaps and feeds rely on; it moves only when what the public sees of the
story changes. A row outlives its story: after a withdrawal or an erasure it stays as a
tombstone (``deleted``), holding nothing but the id, the moment and the sets the story was in, so
harvesters learn to delete their copy and the story's address answers 410 Gone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db


class PublicRecord(db.Model):
    """A published (or once published) story as the outside world knows it."""

    __tablename__ = "public_records"
    __table_args__ = (Index("ix_public_records_changed", "changed_at", "story_id"),)

    #: The story's id; no foreign key, since the row must outlive an erased story.
    story_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: When the public content last changed (publication, edit, withdrawal, erasure).
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    #: Withdrawn or erased: only the header remains.
    deleted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    #: SHA-256 of the public content last seen; ``None`` once deleted (nothing of it is kept).
    fingerprint: Mapped[str | None] = mapped_column(String(64))

    sets: Mapped[list[PublicRecordSet]] = relationship(
        cascade="all, delete-orphan", order_by="PublicRecordSet.set_spec"
    )


class PublicRecordSet(db.Model):
    """One set a record belongs to (``collection:<id>``, ``organisation:<id>``)."""

    __tablename__ = "public_record_sets"

    story_id: Mapped[int] = mapped_column(
        ForeignKey("public_records.story_id", ondelete="CASCADE"), primary_key=True
    )
    set_spec: Mapped[str] = mapped_column(String(80), primary_key=True, index=True)
