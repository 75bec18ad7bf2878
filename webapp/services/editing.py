"""Changing a story's metadata after submission, with every change recorded.

Archivists correct metadata (title, places, period, themes, licence, credit, and a document's
provenance) at any stage; the author may rework the title, the text and the documents it responds
to only while the story is with them (draft, returned or changes requested). Each edit writes an
audit entry with the old and new values and a ``story.metadata_edited`` event so the search index
follows, in the caller's unit of work. This module must never change a story's status, and
never commits.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext

from schemas import FieldError, field_words
from webapp import labels
from webapp.errors import BadRequest, Forbidden, NotFound, ValidationFailed
from webapp.extensions import db
from webapp.models import MediaAsset, Story, StoryStatus, User
from webapp.periods import parse_period
from webapp.services import access, audit, consent, documents, outbox
from webapp.unit_of_work import UnitOfWork

STAFF_FIELDS = (
    "title",
    "body",
    "places",
    "period",
    "themes",
    "licence",
    "credit",
    "source",
    "responds_to",
)
AUTHOR_FIELDS = ("title", "body", "responds_to")
AUTHOR_EDITABLE = (
    StoryStatus.DRAFT.value,
    StoryStatus.RETURNED.value,
    StoryStatus.CHANGES_REQUESTED.value,
)


def _as_list(value: Any, field: str) -> list[str]:
    if isinstance(value, str):
        value = value.replace("\n", ",").split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest(
            gettext("%(field)s must be a list of words", field=labels.label(field, "field")),
            field=field,
        )
    seen: dict[str, str] = {}
    for item in value:
        text = " ".join(item.split())
        if text:
            seen.setdefault(text.casefold(), text)
    return list(seen.values())


def _present(source: dict[str, str | None]) -> dict[str, str]:
    return {key: value for key, value in source.items() if value}


def edit_metadata(
    uow: UnitOfWork, story_id: int, changes: dict[str, Any], actor: User | None
) -> list[str]:
    """Apply ``changes``; return the names of the fields that really changed."""
    story = db.session.get(Story, story_id, with_for_update=True)
    if story is None or actor is None or not access.can_view(story, actor):
        raise NotFound(gettext("no such story"))
    not_fields = sorted(set(changes) - set(STAFF_FIELDS))
    if not_fields:
        raise ValidationFailed(
            [
                FieldError(
                    name,
                    gettext(
                        "%(field)s is not a field that can be changed", field=field_words(name)
                    ),
                )
                for name in not_fields
            ]  # fmt: skip
        )
    wrong_type = [
        name
        for name in ("title", "body", "period", "licence", "credit")
        if changes.get(name) is not None and not isinstance(changes[name], str)
    ]
    if wrong_type:
        raise ValidationFailed(
            [
                FieldError(name, gettext("%(field)s: must be %(type)s", field=field_words(name),
                                         type=gettext("a string of text")))
                for name in wrong_type
            ]
        )  # fmt: skip
    if actor.is_staff:
        allowed = STAFF_FIELDS
    elif access.is_owner(actor, story) and story.status in AUTHOR_EDITABLE:
        allowed = AUTHOR_FIELDS
    else:
        raise Forbidden(gettext("you cannot change this story now"))
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise Forbidden(gettext("you cannot change %(fields)s", fields=", ".join(unknown)))
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}

    def put(field: str, old: Any, new: Any) -> None:
        if old != new:
            before[field], after[field] = old, new

    for field, value in changes.items():
        if field in ("places", "themes"):
            new = _as_list(value, field)
            put(field, list(getattr(story, field) or []), new)
            setattr(story, field, new)
        elif field == "title":
            title = " ".join(str(value or "").split())
            if not title:
                raise ValidationFailed(
                    [FieldError("title", gettext("%(field)s: must not be empty",
                                                 field=field_words("title")))]
                )  # fmt: skip
            put("title", story.title, title[:300])
            story.title = title[:300]
        elif field == "body":
            put("body", story.body, str(value or ""))
            story.body = str(value or "")
        elif field == "period":
            text = str(value or "").strip()
            if text:
                try:
                    period = parse_period(text)
                except ValueError as exc:
                    raise ValidationFailed([FieldError("period", str(exc))]) from exc
                put("period", story.period, period.text)
                story.period, story.period_start, story.period_end = (
                    period.text,
                    period.start,
                    period.end,
                )
            else:
                put("period", story.period, None)
                story.period = story.period_start = story.period_end = None
        elif field == "licence":
            if value not in consent.LICENCES:
                raise ValidationFailed([FieldError("licence", _licence_choices())])
            put("licence", story.licence, value)
            story.licence = value
        elif field == "responds_to":
            old = [d.id for d in documents.responded_documents(story, public_only=False)]
            new = [d.id for d in documents.link_responses(uow, story.id, value)]
            put("responds_to", old, new)
        elif field == "source":
            # An archive document's provenance (``webapp.services.documents``); staff only.
            if not story.is_document:
                raise documents.source_only_for_documents()
            cleaned = documents.clean_source(value)
            put("source", documents.source_json(story), _present(cleaned))
            documents.apply_source(story, cleaned)
        elif field == "credit":
            credit = " ".join(str(value or "").split())[:300]
            extra = dict(story.extra or {})
            put("credit", extra.get("credit"), credit or None)
            if credit:
                extra["credit"] = credit
            else:
                extra.pop("credit", None)
            story.extra = extra
    if not after:
        return []
    fields = sorted(after)
    audit.record(
        "story.metadata_edited",
        "story",
        story.id,
        actor=actor,
        details={"before": before, "after": after},
    )
    outbox.emit(
        "story.metadata_edited", {"story_id": story.id, "actor_id": actor.id, "fields": fields}
    )
    return fields


def edit_media_rights(
    uow: UnitOfWork, media_id: int, licence: str | None, credit: str | None, actor: User | None
) -> MediaAsset:
    """An archivist sets one image's own licence and credit (empty = same as the story)."""
    access.require_archivist(actor)
    media = db.session.get(MediaAsset, media_id)
    if media is None:
        raise NotFound(gettext("no such image"))
    licence = (licence or "").strip() or None
    if licence is not None and licence not in consent.LICENCES:
        raise ValidationFailed([FieldError("licence", _licence_choices())])
    credit = " ".join((credit or "").split())[:300] or None
    before = {"licence": media.licence, "credit": media.credit}
    media.licence, media.credit = licence, credit
    audit.record(
        "media.rights_edited",
        "story",
        media.story_id,
        actor=actor,
        details={
            "media_id": media.id,
            "before": before,
            "after": {"licence": licence, "credit": credit},
        },
    )
    return media


def _licence_choices() -> str:
    """The refusal of an unknown licence, naming the field and the codes it accepts."""
    return gettext("%(field)s: choose one of %(choices)s", field=field_words("licence"),
                   choices=", ".join(consent.LICENCES))  # fmt: skip
