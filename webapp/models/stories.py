"""Stories, their media and takedown requests: what contributors hand in."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import (
    GuardianConsent,
    MediaState,
    StoryKind,
    StoryStatus,
    enum_column,
    utcnow,
)

if TYPE_CHECKING:  # relationship targets, resolved by name at run time
    from webapp.models.accounts import Organisation, SchoolClass, User
    from webapp.models.places import StoryPlace


class Story(db.Model):
    __tablename__ = "stories"
    # Ids are permanent (public URLs, citations, derivative keys): SQLite must never hand out the
    # id of an erased row again, which it does without AUTOINCREMENT. The public lists (home,
    # organisation and place pages, feeds) read published stories newest first from one index.
    __table_args__ = (
        Index("ix_stories_public_order", "status", "published_at", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    #: BCP 47 tag, canonical case (``fr``, ``ar``, ``zh-Hant``, ``ckb-Latn``).
    language: Mapped[str] = mapped_column(String(35), nullable=False, index=True)
    places: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    #: The period as the contributor wrote it ("1962", "1960s", "1962-1975") ...
    period: Mapped[str | None] = mapped_column(String(40))
    #: ... and the years it covers, for sorting and decade facets.
    period_start: Mapped[int | None] = mapped_column(Integer, index=True)
    period_end: Mapped[int | None] = mapped_column(Integer)
    themes: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    licence: Mapped[str] = mapped_column(String(40), nullable=False)
    consent: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    #: Optional metadata fields accepted by the schema (credit line, contributor name, summary).
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    status: Mapped[str] = enum_column(StoryStatus.SUBMITTED)
    #: ``story`` or ``document`` (an archive document, ``webapp.services.documents``).
    kind: Mapped[str] = enum_column(StoryKind.STORY)
    #: A document's provenance: holding institution, call number (cote), fonds or series and
    #: producer/author. Empty for stories. Its date is ``period``; its rights ``licence`` and
    #: ``extra["credit"]``.
    source_institution: Mapped[str | None] = mapped_column(String(300))
    source_reference: Mapped[str | None] = mapped_column(String(200))
    source_fonds: Mapped[str | None] = mapped_column(String(300))
    source_producer: Mapped[str | None] = mapped_column(String(300))
    #: Secret part of the status-page link given to whoever submitted (no account needed).
    status_token: Mapped[str] = mapped_column(
        String(64), nullable=False, unique=True, default=lambda: secrets.token_urlsafe(24)
    )
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The class the story was written in (teacher review happens there first).
    class_id: Mapped[int | None] = mapped_column(ForeignKey("school_classes.id"), index=True)
    #: Guardian consent for a minor's story: not_required / pending / received (by whom, when).
    guardian_consent: Mapped[str] = enum_column(GuardianConsent.NOT_REQUIRED)
    guardian_consent_by: Mapped[str | None] = mapped_column(String(200))
    guardian_consent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    guardian_consent_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: People can be recognised in the photos: an archivist must clear this before publication.
    persons_identifiable: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    persons_cleared_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    persons_cleared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Handed in without an account: waits out of the review queue until an archivist lets it
    #: in or discards it (``webapp.services.quarantine``).
    quarantined: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, index=True)
    #: A bulk import's stable key for the row this story came from (``webapp.interop.csv_import``):
    #: a resumed or repeated import skips rows whose key is already here.
    import_key: Mapped[str | None] = mapped_column(String(255), unique=True, index=True)

    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    organisation: Mapped[Organisation | None] = relationship()
    school_class: Mapped[SchoolClass | None] = relationship()
    media: Mapped[list[MediaAsset]] = relationship(
        back_populates="story", order_by="MediaAsset.position", cascade="all, delete-orphan"
    )

    #: The place keys the story names (``webapp.places`` keeps them in step with ``places``).
    place_links: Mapped[list[StoryPlace]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )

    @hybrid_property
    def is_public(self) -> bool:
        """THE visibility rule: published (and not erased — an erased story has no row).

        One expression for Python (``story.is_public``) and SQL (``.where(Story.is_public)``);
        every public list, page, feed and count uses it, through
        ``webapp.services.visibility``. Never write the rule again elsewhere.
        """
        return self.status == StoryStatus.PUBLISHED.value

    @property
    def is_document(self) -> bool:
        return self.kind == StoryKind.DOCUMENT.value


class MediaAsset(db.Model):
    __tablename__ = "media_assets"
    __table_args__ = {"sqlite_autoincrement": True}  # see Story: derivative keys hold this id

    id: Mapped[int] = mapped_column(primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id"), nullable=False, index=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    #: Content-addressed key of the untouched original (``originals/sha256/ab/abcdef…``).
    original_key: Mapped[str] = mapped_column(String(512), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    mime_type: Mapped[str] = mapped_column(String(100), nullable=False)
    byte_size: Mapped[int] = mapped_column(Integer, nullable=False)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    original_filename: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    alt_text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    #: Licence and credit of this image when they differ from the story's (``None`` = inherit).
    licence: Mapped[str | None] = mapped_column(String(40))
    credit: Mapped[str | None] = mapped_column(String(300))
    state: Mapped[str] = enum_column(MediaState.PENDING)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    #: name → {"key", "mime", "width", "height", "bytes"} for each derivative written.
    derivatives: Mapped[dict[str, dict[str, Any]]] = mapped_column(
        JSON, nullable=False, default=dict
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    story: Mapped[Story] = relationship(back_populates="media")


class StoryResponse(db.Model):
    """A story that responds to an archive document (a class project's writing, or any
    contributor's): ``story_id`` answers ``document_id``.

    Rows are written only through ``webapp.services.documents.link_responses``, which checks
    that each document is a published document; what the public sees of them is filtered
    there too (only published responses, only published documents).
    """

    __tablename__ = "story_responses"

    story_id: Mapped[int] = mapped_column(
        ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True
    )
    document_id: Mapped[int] = mapped_column(
        ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    #: The order in which the story names its documents.
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TakedownRequest(db.Model):
    """Someone (contributor, teacher, a member of the public) asks for a story to be removed."""

    __tablename__ = "takedown_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id"), index=True)
    requester_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    contact: Mapped[str] = mapped_column(String(320), nullable=False, default="")
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    erasure_requested: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: open / done / declined
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="open", index=True)
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
