"""Public records: the datestamp and tombstone of every story that was ever published.

Harvesters (OAI-PMH), the sitemap and the feeds need to know *when what the public sees of a
story last changed*, and they need to hear about stories that left the public site. Both are kept
here, in ``public_records`` (``webapp.models.publication``), by two session hooks rather than by
calls in each service: a story's public content changes through publication, edits, image jobs,
collection curation, organisation renames, withdrawal and erasure — a hook cannot be forgotten by
the next one. After each flush the hook notes which stories were touched; just before the commit
it compares each one's public content (a fingerprint of what the public sees) with the record
and, only if it differs, moves ``changed_at``. Stories that are not public get no record, and a
record whose story stops being public becomes a deleted header that keeps nothing of its content.

This module never commits (the hooks add to the transaction being committed) and never makes a
story public: it reads :attr:`Story.is_public`, the one visibility rule.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import has_app_context
from sqlalchemy import and_, event, or_
from sqlalchemy.orm import Session, selectinload

from webapp import page_cache
from webapp.extensions import db
from webapp.models import (
    Collection,
    CollectionItem,
    MediaAsset,
    Organisation,
    PublicRecord,
    PublicRecordSet,
    Story,
    StoryResponse,
    utcnow,
)

log = logging.getLogger(__name__)

_TOUCHED = "passages.publication.stories"
_COLLECTIONS = "passages.publication.collections"
_ORGANISATIONS = "passages.publication.organisations"
_PAGES_CHANGED = "passages.publication.pages_changed"

COLLECTION_SET = "collection"
ORGANISATION_SET = "organisation"


# --- keeping the records --------------------------------------------------------------------


@event.listens_for(Session, "after_flush")
def _note_touched(session: Session, _context: object) -> None:
    """Remember which stories this transaction touched (ids are known after a flush)."""
    stories: set[int] = session.info.setdefault(_TOUCHED, set())
    for obj in [*session.new, *session.dirty, *session.deleted]:
        if isinstance(obj, Story) and obj.id is not None:
            stories.add(obj.id)
        elif isinstance(obj, MediaAsset | CollectionItem) and obj.story_id is not None:
            stories.add(obj.story_id)
        elif isinstance(obj, Collection) and obj.id is not None:
            session.info.setdefault(_COLLECTIONS, set()).add(obj.id)
        elif isinstance(obj, Organisation) and obj.id is not None and obj in session.dirty:
            session.info.setdefault(_ORGANISATIONS, set()).add(obj.id)


@event.listens_for(Session, "after_soft_rollback")
def _forget_touched(session: Session, _previous: object) -> None:
    for key in (_TOUCHED, _COLLECTIONS, _ORGANISATIONS, _PAGES_CHANGED):
        session.info.pop(key, None)


@event.listens_for(Session, "before_commit")
def _refresh_touched(session: Session) -> None:
    """Bring the records of the touched stories up to date, inside the committing transaction."""
    if session.new or session.dirty or session.deleted:
        session.flush()  # the last changes, so that they are noted and read below
    if not any(session.info.get(key) for key in (_TOUCHED, _COLLECTIONS, _ORGANISATIONS)):
        return
    if session.info.get(_COLLECTIONS) or session.info.get(_ORGANISATIONS):
        session.info[_PAGES_CHANGED] = True  # titles, introductions, names shown on pages
    done: set[int] = set()
    while True:
        pending = _pending_story_ids(session) - done
        if not pending:
            break
        for story_id in sorted(pending):
            refresh_record(session, story_id)
            done.add(story_id)
    session.info.pop(_TOUCHED, None)


@event.listens_for(Session, "after_commit")
def _retire_cached_pages(session: Session) -> None:
    """Once a change the public sees is committed, the page cache must not serve the old pages
    (``webapp.page_cache``; the relay does it again for the events, this is the quick path)."""
    if session.info.pop(_PAGES_CHANGED, False) and has_app_context():
        page_cache.invalidate()


def _pending_story_ids(session: Session) -> set[int]:
    ids = set(session.info.pop(_TOUCHED, set()))
    collections = session.info.pop(_COLLECTIONS, set())
    organisations = session.info.pop(_ORGANISATIONS, set())
    with session.no_autoflush:
        if collections:
            ids |= set(
                session.scalars(
                    db.select(CollectionItem.story_id).where(
                        CollectionItem.collection_id.in_(sorted(collections))
                    )
                )
            )
            # A collection's old members (removed items) were noted by their own rows.
        if organisations:
            ids |= set(
                session.scalars(
                    db.select(Story.id).where(Story.organisation_id.in_(sorted(organisations)))
                )
            )
    return ids


def refresh_record(session: Session, story_id: int) -> PublicRecord | None:
    """Make the record of ``story_id`` say what the public sees of it now; return the record."""
    story = session.get(Story, story_id)
    record = session.get(PublicRecord, story_id)
    if story is None or not story.is_public:
        if record is not None and not record.deleted:
            session.info[_PAGES_CHANGED] = True
            record.deleted = True
            record.fingerprint = None  # nothing of the content is kept
            record.changed_at = utcnow()
            log.info("public record of story %s is now a deleted header", story_id)
        return record
    specs = set_specs_of(session, story)
    fingerprint = content_fingerprint(session, story, specs)
    if record is None:
        record = PublicRecord(story_id=story_id, changed_at=utcnow(), deleted=False)
        session.add(record)
    elif not record.deleted and record.fingerprint == fingerprint:
        return record
    session.info[_PAGES_CHANGED] = True
    record.deleted = False
    record.fingerprint = fingerprint
    record.changed_at = utcnow()
    current = {s.set_spec: s for s in record.sets}
    for spec, row in current.items():
        if spec not in specs:
            record.sets.remove(row)
    for spec in sorted(specs - current.keys()):
        record.sets.append(PublicRecordSet(set_spec=spec))
    return record


def set_specs_of(session: Session, story: Story) -> set[str]:
    """The sets a public story belongs to: its organisation and its published collections."""
    specs = set()
    if story.organisation_id is not None:
        specs.add(f"{ORGANISATION_SET}:{story.organisation_id}")
    with session.no_autoflush:
        collection_ids = session.scalars(
            db.select(CollectionItem.collection_id)
            .join(Collection, Collection.id == CollectionItem.collection_id)
            .where(CollectionItem.story_id == story.id, Collection.published.is_(True))
        )
        specs |= {f"{COLLECTION_SET}:{cid}" for cid in collection_ids}
    return specs


def content_fingerprint(session: Session, story: Story, specs: set[str]) -> str:
    """SHA-256 of everything the public is shown of ``story`` (and the sets it is in)."""
    organisation = story.organisation
    content = {
        "title": story.title,
        "body": story.body,
        "language": story.language,
        "places": story.places,
        "period": story.period,
        "themes": story.themes,
        "licence": story.licence,
        "credit": (story.extra or {}).get("credit"),
        "summary": (story.extra or {}).get("summary"),
        "published_at": _aware(story.published_at).isoformat() if story.published_at else None,
        "organisation": [organisation.id, organisation.name] if organisation else None,
        "media": [
            [m.id, m.state, sorted(m.derivatives or {}), m.alt_text, m.licence, m.credit]
            for m in story.media
        ],
        "sets": sorted(specs),
    }
    # Only when present, so the fingerprint of a plain story is what it always was.
    if story.is_document:
        content["kind"] = story.kind
        content["source"] = [
            story.source_institution,
            story.source_reference,
            story.source_fonds,
            story.source_producer,
        ]
    with session.no_autoflush:
        answered = session.scalars(
            db.select(StoryResponse.document_id)
            .where(StoryResponse.story_id == story.id)
            .order_by(StoryResponse.position)
        ).all()
    if answered:
        content["responds_to"] = list(answered)
    encoded = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def _aware(moment: datetime) -> datetime:
    """Stored moments are UTC; SQLite hands them back naive."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- reading the records --------------------------------------------------------------------


@dataclass(frozen=True)
class RecordWindow:
    """Which records a harvest asks for: ``start <= changed_at < end``, in a set, after a
    position ``(changed_at, story_id)`` (exclusive) — the keyset of a resumable list."""

    start: datetime | None = None
    end: datetime | None = None
    set_spec: str | None = None
    after: tuple[datetime, int] | None = None


def _window_conditions(window: RecordWindow) -> list:
    conditions = []
    if window.start is not None:
        conditions.append(PublicRecord.changed_at >= window.start)
    if window.end is not None:
        conditions.append(PublicRecord.changed_at < window.end)
    if window.set_spec:
        in_set = (
            db.select(PublicRecordSet.story_id)
            .where(
                PublicRecordSet.story_id == PublicRecord.story_id,
                or_(
                    PublicRecordSet.set_spec == window.set_spec,
                    PublicRecordSet.set_spec.startswith(window.set_spec + ":", autoescape=True),
                ),
            )
            .exists()
        )
        conditions.append(in_set)
    return conditions


def count_records(window: RecordWindow) -> int:
    """How many records the window holds (ignoring the position)."""
    query = db.select(db.func.count(PublicRecord.story_id)).where(*_window_conditions(window))
    return db.session.scalar(query) or 0


def records_page(window: RecordWindow, limit: int) -> list[PublicRecord]:
    """Up to ``limit`` records after the window's position, oldest change first."""
    conditions = _window_conditions(window)
    if window.after is not None:
        moment, story_id = window.after
        conditions.append(
            or_(
                PublicRecord.changed_at > moment,
                and_(PublicRecord.changed_at == moment, PublicRecord.story_id > story_id),
            )
        )
    query = (
        db.select(PublicRecord)
        .where(*conditions)
        .options(selectinload(PublicRecord.sets))
        .order_by(PublicRecord.changed_at, PublicRecord.story_id)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def get_record(story_id: int) -> PublicRecord | None:
    return db.session.get(PublicRecord, story_id)


def public_story_of(record: PublicRecord) -> Story | None:
    """The story behind a record while it is public; ``None`` for a deleted header."""
    if record.deleted:
        return None
    story = db.session.get(Story, record.story_id)
    return story if story is not None and story.is_public else None


def stories_of(records: list[PublicRecord]) -> dict[int, Story]:
    """The public stories behind ``records``, loaded together (with media and organisation)."""
    ids = [r.story_id for r in records if not r.deleted]
    if not ids:
        return {}
    rows = db.session.scalars(
        db.select(Story)
        .where(Story.id.in_(ids), Story.is_public)
        .options(selectinload(Story.media), selectinload(Story.organisation))
    )
    return {story.id: story for story in rows}


def is_gone(story_id: int) -> bool:
    """True when the story was published once and is no longer (withdrawn or erased)."""
    record = db.session.get(PublicRecord, story_id)
    return record is not None and record.deleted


def earliest_change() -> datetime | None:
    moment = db.session.scalar(db.select(db.func.min(PublicRecord.changed_at)))
    return _aware(moment) if moment is not None else None


def changed_at_of(record: PublicRecord) -> datetime:
    return _aware(record.changed_at)


@dataclass(frozen=True)
class PublicSet:
    spec: str
    name: str


def public_sets() -> list[PublicSet]:
    """Every set a harvester may ask for: the two families, each published collection and each
    organisation with a record (deleted headers included, so deletions reach set harvesters)."""
    sets = [PublicSet(COLLECTION_SET, "Collections"), PublicSet(ORGANISATION_SET, "Organisations")]
    collections = db.session.scalars(
        db.select(Collection).where(Collection.published.is_(True)).order_by(Collection.id)
    )
    sets += [PublicSet(f"{COLLECTION_SET}:{c.id}", c.title) for c in collections]
    with_records = (
        db.select(PublicRecordSet.story_id)
        .where(
            PublicRecordSet.set_spec
            == db.literal(ORGANISATION_SET + ":") + db.cast(Organisation.id, db.String)
        )
        .exists()
    )
    organisations = db.session.scalars(
        db.select(Organisation).where(with_records).order_by(Organisation.id)
    )
    sets += [PublicSet(f"{ORGANISATION_SET}:{o.id}", o.name) for o in organisations]
    return sets
