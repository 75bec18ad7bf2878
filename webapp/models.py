"""Database models: the data Passages keeps and the invariants that hold whatever the caller.

Rules about *who may do what* and *what a change triggers* live in ``webapp.services``; models only
hold data. Never commit from here: the service that started the unit of work decides when.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


class OrganisationKind(enum.StrEnum):
    SCHOOL = "school"
    ASSOCIATION = "association"
    ARCHIVE = "archive"


class Role(enum.StrEnum):
    CONTRIBUTOR = "contributor"
    TEACHER = "teacher"
    ARCHIVIST = "archivist"
    ADMIN = "admin"


class StoryStatus(enum.StrEnum):
    DRAFT = "draft"
    #: Waiting for the teacher (or, without one, for the archive to start its review).
    SUBMITTED = "submitted"
    #: The teacher sent it back to the student with comments.
    RETURNED = "returned"
    #: In archive review (forwarded by the teacher, or taken up by an archivist).
    IN_REVIEW = "in_review"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    PUBLISHED = "published"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class GuardianConsent(enum.StrEnum):
    NOT_REQUIRED = "not_required"
    PENDING = "pending"
    RECEIVED = "received"


class MediaState(enum.StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


# Enum values are stored as plain strings (not database enums) so that adding a state later is
# a code change, not a type migration on PostgreSQL.
def _enum_column(default: enum.StrEnum) -> Mapped[str]:
    return mapped_column(String(32), nullable=False, default=default.value, index=True)


class Organisation(db.Model):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    kind: Mapped[str] = _enum_column(OrganisationKind.ASSOCIATION)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    users: Mapped[list[User]] = relationship(back_populates="organisation")


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Nullable: students join a class with a pseudonym and never give an e-mail address.
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(120), nullable=False)
    password_hash: Mapped[str | None] = mapped_column(String(256))
    role: Mapped[str] = _enum_column(Role.CONTRIBUTOR)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: Students belong to one class; they log in with its code, their pseudonym and a personal
    #: access code (kept hashed in ``password_hash``).
    class_id: Mapped[int | None] = mapped_column(ForeignKey("school_classes.id"), index=True)
    #: Login hardening: consecutive failures and the time until which logins are refused.
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    organisation: Mapped[Organisation | None] = relationship(back_populates="users")
    school_class: Mapped[SchoolClass | None] = relationship(
        foreign_keys=[class_id], back_populates="students"
    )

    def set_password(self, password: str) -> None:
        # Werkzeug's default is scrypt with a random salt: a modern, memory-hard scheme.
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login reads this
        return self.active

    @property
    def is_student(self) -> bool:
        return self.class_id is not None

    def has_role(self, *roles: Role) -> bool:
        return self.role in {r.value for r in roles}

    @property
    def is_staff(self) -> bool:
        """Archivists and admins may see every story whatever its state."""
        return self.has_role(Role.ARCHIVIST, Role.ADMIN)


class ApiToken(db.Model):
    """A bearer token for integrations; only its SHA-256 is stored, the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    label: Mapped[str] = mapped_column(String(120), default="", nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)

    user: Mapped[User] = relationship()

    @staticmethod
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8")).hexdigest()

    @classmethod
    def issue(cls, user: User, label: str = "") -> tuple[ApiToken, str]:
        token = "psg_" + secrets.token_urlsafe(32)
        return cls(user=user, token_sha256=cls.digest(token), label=label), token


class SchoolClass(db.Model):
    """A teacher's class: students join with ``code`` and a pseudonym, never an e-mail address."""

    __tablename__ = "school_classes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    #: Short code written on the board and the printable sheet (no ambiguous characters).
    code: Mapped[str] = mapped_column(String(16), nullable=False, unique=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    open_for_joining: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    organisation: Mapped[Organisation | None] = relationship()
    teacher: Mapped[User] = relationship(foreign_keys=[teacher_id])
    students: Mapped[list[User]] = relationship(
        foreign_keys="User.class_id", back_populates="school_class", order_by="User.display_name"
    )


class Invitation(db.Model):
    """An invitation link for a teacher/coordinator/archivist; only the token's SHA-256 is kept."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    organisation: Mapped[Organisation | None] = relationship()


class Story(db.Model):
    __tablename__ = "stories"
    # Ids are permanent (public URLs, citations, derivative keys): SQLite must never hand out the
    # id of an erased row again, which it does without AUTOINCREMENT.
    __table_args__ = {"sqlite_autoincrement": True}

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
    status: Mapped[str] = _enum_column(StoryStatus.SUBMITTED)
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
    guardian_consent: Mapped[str] = _enum_column(GuardianConsent.NOT_REQUIRED)
    guardian_consent_by: Mapped[str | None] = mapped_column(String(200))
    guardian_consent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    guardian_consent_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: People can be recognised in the photos: an archivist must clear this before publication.
    persons_identifiable: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    persons_cleared_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    persons_cleared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    organisation: Mapped[Organisation | None] = relationship()
    school_class: Mapped[SchoolClass | None] = relationship()
    media: Mapped[list[MediaAsset]] = relationship(
        back_populates="story", order_by="MediaAsset.position", cascade="all, delete-orphan"
    )

    @property
    def is_public(self) -> bool:
        return self.status == StoryStatus.PUBLISHED


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
    state: Mapped[str] = _enum_column(MediaState.PENDING)
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


class Collection(db.Model):
    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    slug: Mapped[str] = mapped_column(String(120), nullable=False, unique=True)
    introduction: Mapped[str] = mapped_column(Text, nullable=False, default="")
    published: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    featured: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: The image the archivist chose as cover; only used while its story is published and in
    #: the collection (``services.collections.cover_image`` falls back to the automatic cover).
    cover_media_id: Mapped[int | None] = mapped_column(
        ForeignKey("media_assets.id", ondelete="SET NULL")
    )

    cover_media: Mapped[MediaAsset | None] = relationship()
    items: Mapped[list[CollectionItem]] = relationship(
        back_populates="collection",
        order_by="CollectionItem.position",
        cascade="all, delete-orphan",
    )


class CollectionItem(db.Model):
    __tablename__ = "collection_items"
    __table_args__ = (UniqueConstraint("collection_id", "story_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id"), nullable=False, index=True
    )
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id"), nullable=False, index=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    collection: Mapped[Collection] = relationship(back_populates="items")
    story: Mapped[Story] = relationship()


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
    """A message for one person, shown in the app (and mailed or logged when it is created)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


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
