"""Exports and imports an archivist starts: what was asked, how far the job got, what it found.

A row is the job's whole state, so the job is an idempotent function of its id (a retried or
resumed job reads where it stands here), and the screens show progress by reading it. Rows are
changed by ``webapp.services.transfers`` and the jobs in ``workers.transfers``; never commit here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import utcnow


class ExportRun(db.Model):
    """One BagIt export: requested → running → ready (file in ``<data>/exports``) | failed."""

    __tablename__ = "export_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    collection_slug: Mapped[str | None] = mapped_column(String(120))
    #: Originals instead of the largest public derivative (admins only).
    originals: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="requested")
    done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    file_name: Mapped[str | None] = mapped_column(String(200))
    byte_size: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ImportRun(db.Model):
    """One bulk import: uploaded → checking → checked | invalid → importing → done | failed.

    ``problems`` holds every row's errors found by the check (``{"row", "column", "message"}``);
    ``done`` counts rows handled (created or skipped), committed with each row, so a resumed run
    and the progress bar agree with what is stored.
    """

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Folder under ``<data>/imports`` holding the uploaded files.
    folder: Mapped[str] = mapped_column(String(200), nullable=False)
    source_name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    images_name: Mapped[str | None] = mapped_column(String(255))
    as_status: Mapped[str] = mapped_column(String(16), nullable=False, default="submitted")
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="uploaded")
    total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    skipped: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
