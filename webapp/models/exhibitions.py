"""The printable exhibition of a collection: what the stored PDFs show and how far a build got.

One row per collection. A row is the build job's whole state (``workers.exhibitions``), so the
job is an idempotent function of the collection's id and the curation screen shows progress by
reading it. ``wanted`` is the fingerprint of the public content a build was last asked for,
``built`` the one the stored PDFs were made from: the PDFs are served only while ``built`` is
the fingerprint of what the public sees now. Rows are changed by
``webapp.services.exhibitions`` and the job; never commit here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db


class Exhibition(db.Model):
    """requested → building → ready | failed; ``done``/``total`` count the job's steps."""

    __tablename__ = "exhibitions"

    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="requested")
    wanted: Mapped[str | None] = mapped_column(String(64))
    built: Mapped[str | None] = mapped_column(String(64))
    #: The stories the stored PDFs show (a withdrawal or an erasure drops them at once).
    story_ids: Mapped[list[int]] = mapped_column(JSON, nullable=False, default=list)
    done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    panels_bytes: Mapped[int | None] = mapped_column(Integer)
    booklet_bytes: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
