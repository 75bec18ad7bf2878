"""Shared pieces of the models: the clock, the enumerations stored as strings, and the column
helper that keeps them plain strings (adding a state is a code change, not a type migration).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    String,
)
from sqlalchemy.orm import Mapped, mapped_column


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


class StoryKind(enum.StrEnum):
    """What a published item is: a story someone told, or an archive's own document."""

    STORY = "story"
    #: A scanned letter, photograph, poster, press cutting, register page… published by an
    #: archivist with its provenance (``Story.source_*``).
    DOCUMENT = "document"


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
def enum_column(default: enum.StrEnum) -> Mapped[str]:
    return mapped_column(String(32), nullable=False, default=default.value, index=True)
