"""Archive documents and the stories that respond to them.

A document is a story row with ``kind = "document"`` and its provenance in ``Story.source_*``
(holding institution, call number, fonds or series, producer); everything else (review, public
pages, search, images, OAI-PMH, IIIF) treats it as any other item. Only archivists create or
change documents. A story may record the documents it responds to (``story_responses``) — a
class project's writing, or any contributor's story through the API — and only published
documents can be answered.

What the public sees of these links is decided here, once: a document lists only its published
responses (newest first), a story shows only the documents that are still published. This
module never commits (the caller's unit of work does) and never decides who may *see* a story
(``webapp.services.access`` does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext

from schemas import FieldError, field_words
from webapp.errors import Forbidden, NotFound, ValidationFailed
from webapp.extensions import db
from webapp.identifiers import parse_id
from webapp.models import Role, Story, StoryKind, StoryResponse, User
from webapp.unit_of_work import UnitOfWork

#: The provenance fields of the API's ``source`` object and the column each one fills.
SOURCE_FIELDS = {
    "institution": "source_institution",
    "reference": "source_reference",
    "fonds": "source_fonds",
    "producer": "source_producer",
}
#: The fields a document must have: without them nobody can find the original again.
REQUIRED_SOURCE_FIELDS = ("institution", "reference")
#: How many documents one story may respond to.
MAX_RESPONDS_TO = 20


@dataclass(frozen=True)
class Provenance:
    """Where a document is kept, as the page and the citation show it."""

    institution: str
    reference: str
    fonds: str | None
    producer: str | None

    def as_json(self) -> dict[str, str]:
        body = {"institution": self.institution, "reference": self.reference}
        if self.fonds:
            body["fonds"] = self.fonds
        if self.producer:
            body["producer"] = self.producer
        return body


def may_manage_documents(user: User | None) -> bool:
    """Archivists (and admins) create and change documents; nobody else does."""
    return user is not None and user.has_role(Role.ARCHIVIST, Role.ADMIN)


def require_document_author(user: User | None) -> User:
    if not may_manage_documents(user):
        raise Forbidden(gettext("only archivists can publish archive documents"))
    return user  # type: ignore[return-value]


def clean_source(source: Any, *, field: str = "source") -> dict[str, str | None]:
    """Check a ``source`` object and return it with collapsed spaces (``None`` for empty
    optional fields). The JSON schema already said which keys exist; this says what is missing."""
    if not isinstance(source, dict):
        raise ValidationFailed(
            [FieldError(field, gettext("%(field)s: must be %(type)s", field=field_words(field),
                                       type=gettext("a group of fields (a JSON object)")))]
        )  # fmt: skip
    cleaned: dict[str, str | None] = {}
    problems = []
    for key, column in SOURCE_FIELDS.items():
        value = source.get(key)
        if value is not None and not isinstance(value, str):
            problems.append(FieldError(f"{field}.{key}", gettext(
                "%(field)s: must be %(type)s", field=field_words(f"{field}.{key}"),
                type=gettext("a string of text"))))  # fmt: skip
            continue
        text = " ".join((value or "").split())
        limit = Story.__table__.c[column].type.length
        if len(text) > limit:
            problems.append(
                FieldError(
                    f"{field}.{key}",
                    gettext(
                        "%(field)s: too long (at most %(count)s characters)",
                        field=field_words(f"{field}.{key}"),
                        count=limit,
                    ),
                )  # fmt: skip
            )
        cleaned[key] = text or None
    for key in REQUIRED_SOURCE_FIELDS:
        if not cleaned.get(key) and not any(p.field == f"{field}.{key}" for p in problems):
            problems.append(
                FieldError(
                    f"{field}.{key}",
                    gettext(
                        "%(field)s: required for an archive document",
                        field=field_words(f"{field}.{key}"),
                    ),
                )  # fmt: skip
            )
    if problems:
        raise ValidationFailed(problems)
    return cleaned


def document_cannot_respond() -> ValidationFailed:
    """The refusal when an archive document is given ``responds_to``: only writing responds."""
    message = gettext(
        "%(field)s: an archive document cannot respond to documents",
        field=field_words("responds_to"),
    )
    return ValidationFailed([FieldError("responds_to", message)])


def source_only_for_documents() -> ValidationFailed:
    """The refusal when a story that is not an archive document is given a ``source``."""
    message = gettext(
        '%(field)s: only for archive documents ("kind": "document")',
        field=field_words("source"),
    )
    return ValidationFailed([FieldError("source", message)])


def apply_source(story: Story, source: dict[str, str | None]) -> None:
    """Write a cleaned ``source`` onto the story's provenance columns."""
    for key, column in SOURCE_FIELDS.items():
        setattr(story, column, source.get(key))


def provenance(story: Story) -> Provenance | None:
    """The document's provenance, or ``None`` for a story (or a document missing it)."""
    if not story.is_document or not story.source_institution:
        return None
    return Provenance(
        institution=story.source_institution,
        reference=story.source_reference or "",
        fonds=story.source_fonds,
        producer=story.source_producer,
    )


def citation(story: Story) -> str | None:
    """The document cited in archival form: institution, call number, fonds — producer, date.

    ("Archives départementales du Val-de-Marne, 2 W 145, fonds Préfecture — Service des
    étrangers, 1962"). ``None`` for a story.
    """
    source = provenance(story)
    if source is None:
        return None
    head = ", ".join(part for part in (source.institution, source.reference, source.fonds) if part)
    tail = ", ".join(part for part in (source.producer, story.period) if part)
    return f"{head} — {tail}" if tail else head


def source_json(story: Story) -> dict[str, str] | None:
    source = provenance(story)
    return source.as_json() if source else None


def _clean_ids(document_ids: Any) -> list[int]:
    if not isinstance(document_ids, list) or not all(parse_id(i) == i for i in document_ids):
        raise ValidationFailed(
            [
                FieldError(
                    "responds_to",
                    gettext(
                        "%(field)s: must be a list of document numbers",
                        field=field_words("responds_to"),
                    ),
                )
            ]  # fmt: skip
        )
    if len(document_ids) > MAX_RESPONDS_TO:
        raise ValidationFailed(
            [
                FieldError(
                    "responds_to",
                    gettext(
                        "%(field)s: too many entries (at most %(count)s)",
                        field=field_words("responds_to"),
                        count=MAX_RESPONDS_TO,
                    ),  # fmt: skip
                )
            ]
        )
    return list(dict.fromkeys(document_ids))


def check_respondable(document_ids: Any, *, story_id: int | None = None) -> list[Story]:
    """The published documents these ids name, in order; 422 naming every id that is not one.

    Unknown ids, stories that are not documents and documents that are not published are
    answered alike (an unpublished id must not be told apart from a missing one).
    """
    ids = _clean_ids(document_ids)
    if not ids:
        return []
    found = {
        story.id: story
        for story in db.session.scalars(
            db.select(Story).where(
                Story.id.in_(ids), Story.is_public, Story.kind == StoryKind.DOCUMENT.value
            )
        )
    }
    wrong = [i for i in ids if i not in found or i == story_id]
    if wrong:
        raise ValidationFailed(
            [
                FieldError(
                    "responds_to",
                    gettext(
                        "%(field)s: not a published archive document: %(ids)s",
                        field=field_words("responds_to"),
                        ids=", ".join(str(i) for i in wrong),
                    ),  # fmt: skip
                )
            ]
        )
    return [found[i] for i in ids]


def link_responses(uow: UnitOfWork, story_id: int, document_ids: Sequence[int]) -> list[Story]:
    """Record that story ``story_id`` responds to ``document_ids`` (replacing what it said
    before); return the documents. Idempotent: the same call twice leaves the same rows.

    Every id must be a published archive document (422 otherwise, nothing changed); a document
    cannot respond to documents. Who may change the story is the caller's to check (a student's
    project writing, the submission itself) — this function only keeps the links right.
    """
    story = db.session.get(Story, story_id)
    if story is None:
        raise NotFound(gettext("no such story"))
    if story.is_document and document_ids:
        raise document_cannot_respond()
    documents = check_respondable(list(document_ids), story_id=story_id)
    existing = {
        row.document_id: row
        for row in db.session.scalars(
            db.select(StoryResponse).where(StoryResponse.story_id == story_id)
        )
    }
    wanted = [d.id for d in documents]
    for document_id, row in existing.items():
        if document_id not in wanted:
            db.session.delete(row)
    for position, document_id in enumerate(wanted):
        row = existing.get(document_id)
        if row is None:
            uow.add(StoryResponse(story_id=story_id, document_id=document_id, position=position))
        else:
            row.position = position
    uow.flush()
    return documents


def responded_documents(story: Story, *, public_only: bool = True) -> list[Story]:
    """The documents ``story`` responds to, in the order it named them (only published ones
    unless ``public_only`` is false: staff and the author see every link)."""
    query = (
        db.select(Story)
        .join(StoryResponse, StoryResponse.document_id == Story.id)
        .where(StoryResponse.story_id == story.id)
        .order_by(StoryResponse.position, Story.id)
    )
    if public_only:
        query = query.where(Story.is_public)
    return list(db.session.scalars(query))


def published_responses(document: Story, limit: int | None = None) -> list[Story]:
    """The published stories that respond to ``document``, newest publication first.

    Never a story that is not published: this is what the document's page and API show.
    """
    query = (
        db.select(Story)
        .join(StoryResponse, StoryResponse.story_id == Story.id)
        .where(StoryResponse.document_id == document.id, Story.is_public)
        .order_by(Story.published_at.desc(), Story.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def forget_links(story_id: int) -> None:
    """Delete every link from or to a story that is being erased (its caller's unit of work)."""
    db.session.execute(
        db.delete(StoryResponse).where(
            (StoryResponse.story_id == story_id) | (StoryResponse.document_id == story_id)
        )
    )
