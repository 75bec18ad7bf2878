"""Database models: the data Passages keeps and the invariants that hold whatever the caller.

Rules about *who may do what* and *what a change triggers* live in ``webapp.services``; models only
hold data. Never commit from here: the unit of work (``webapp.unit_of_work``) that the view or job
opened decides when. Every model lives in this package, one module per area; import them from
here (``from webapp.models import Story``) so that moving one between modules changes no caller.
"""

from __future__ import annotations

from webapp.models.accounts import (
    ApiToken,
    Invitation,
    LoginThrottle,
    Organisation,
    SchoolClass,
    User,
)
from webapp.models.base import (
    GuardianConsent,
    MediaState,
    OrganisationKind,
    Role,
    StoryKind,
    StoryStatus,
    enum_column,
    utcnow,
)
from webapp.models.collections import Collection, CollectionItem, CollectionView
from webapp.models.events import AuditEntry, Notification, OutboxEvent
from webapp.models.exhibitions import Exhibition
from webapp.models.interop import ExportRun, ImportRun
from webapp.models.operations import CheckRun, IdempotencyRecord, ObjectClaim
from webapp.models.places import DEPARTMENTS, Place, StoryPlace
from webapp.models.publication import PublicRecord, PublicRecordSet
from webapp.models.stories import MediaAsset, Story, StoryResponse, TakedownRequest
from webapp.models.transcripts import IndexPoint, RecordingConsent, Transcript, TranscriptCue

__all__ = [
    "DEPARTMENTS",
    "ApiToken",
    "AuditEntry",
    "CheckRun",
    "Collection",
    "CollectionItem",
    "CollectionView",
    "Exhibition",
    "ExportRun",
    "GuardianConsent",
    "IdempotencyRecord",
    "ImportRun",
    "IndexPoint",
    "Invitation",
    "LoginThrottle",
    "MediaAsset",
    "MediaState",
    "Notification",
    "ObjectClaim",
    "Organisation",
    "OrganisationKind",
    "OutboxEvent",
    "Place",
    "PublicRecord",
    "PublicRecordSet",
    "RecordingConsent",
    "Role",
    "SchoolClass",
    "Story",
    "StoryKind",
    "StoryPlace",
    "StoryResponse",
    "StoryStatus",
    "TakedownRequest",
    "Transcript",
    "TranscriptCue",
    "User",
    "enum_column",
    "utcnow",
]
