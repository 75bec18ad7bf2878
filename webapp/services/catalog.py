"""What the public may list: collections, organisations and places with their public stories,
and the entries of the sitemap and the feeds.

Every count and list here goes through the one visibility rule (``Story.is_public``) and shows
only published collections; datestamps come from the public records
(``webapp.services.publication``), which move only when what the public sees changes. This
module reads only and must never widen what is public.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import (
    Collection,
    CollectionItem,
    Organisation,
    Place,
    PublicRecord,
    Story,
    StoryPlace,
)
from webapp.services import visibility


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Counted:
    """A record and how many public stories it holds, with the last change among them."""

    record: Collection | Organisation | Place
    stories: int
    changed_at: datetime | None


def _public_changes():
    """``(story id, changed_at)`` of every public story, as a subquery."""
    return (
        db.select(Story.id.label("story_id"), PublicRecord.changed_at.label("changed_at"))
        .join(PublicRecord, PublicRecord.story_id == Story.id)
        .where(Story.is_public)
        .subquery()
    )


def public_collections() -> list[Counted]:
    """Published collections, newest first, each with its number of public stories."""
    changes = _public_changes()
    counts = dict(
        (cid, (n, changed))
        for cid, n, changed in db.session.execute(
            db.select(
                CollectionItem.collection_id,
                db.func.count(changes.c.story_id),
                db.func.max(changes.c.changed_at),
            )
            .join(changes, changes.c.story_id == CollectionItem.story_id)
            .group_by(CollectionItem.collection_id)
        )
    )
    rows = db.session.scalars(
        db.select(Collection)
        .where(Collection.published.is_(True))
        .order_by(Collection.created_at.desc(), Collection.id.desc())
    )
    return [
        Counted(c, counts.get(c.id, (0, None))[0], _aware(counts.get(c.id, (0, None))[1]))
        for c in rows
    ]


def public_collection_stories(collection: Collection) -> list[Story]:
    """The published stories of a published collection, in the archivist's order."""
    return list(
        db.session.scalars(
            db.select(Story)
            .join(CollectionItem, CollectionItem.story_id == Story.id)
            .where(CollectionItem.collection_id == collection.id, Story.is_public)
            .options(selectinload(Story.media), selectinload(Story.organisation))
            .order_by(CollectionItem.position, CollectionItem.id)
        )
    )


def public_organisations() -> list[Counted]:
    """Organisations with at least one public story, by name."""
    changes = _public_changes()
    rows = db.session.execute(
        db.select(Organisation, db.func.count(Story.id), db.func.max(changes.c.changed_at))
        .join(Story, Story.organisation_id == Organisation.id)
        .join(changes, changes.c.story_id == Story.id)
        .group_by(Organisation.id)
        .order_by(Organisation.name)
    )
    return [Counted(o, n, _aware(changed)) for o, n, changed in rows]


def public_places() -> list[Counted]:
    """Every place record with its number of public stories (0 included), by name."""
    changes = _public_changes()
    counts = {
        key: (n, changed)
        for key, n, changed in db.session.execute(
            db.select(
                StoryPlace.place_key,
                db.func.count(changes.c.story_id),
                db.func.max(changes.c.changed_at),
            )
            .join(changes, changes.c.story_id == StoryPlace.story_id)
            .group_by(StoryPlace.place_key)
        )
    }
    places = db.session.scalars(db.select(Place).order_by(Place.name, Place.id))
    return [
        Counted(p, counts.get(p.key, (0, None))[0], _aware(counts.get(p.key, (0, None))[1]))
        for p in places
    ]


@dataclass(frozen=True)
class DatedStory:
    story_id: int
    title: str
    changed_at: datetime


def public_stories_dated(offset: int = 0, limit: int | None = None) -> list[DatedStory]:
    """Public stories by id with the moment their public content last changed (sitemaps)."""
    query = (
        db.select(Story.id, Story.title, PublicRecord.changed_at)
        .join(PublicRecord, PublicRecord.story_id == Story.id)
        .where(Story.is_public)
        .order_by(Story.id)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return [DatedStory(i, t, _aware(c)) for i, t, c in db.session.execute(query)]


def count_public_stories() -> int:
    return db.session.scalar(db.select(db.func.count(Story.id)).where(Story.is_public)) or 0


def newest_published(limit: int, collection: Collection | None = None) -> list[Story]:
    """The most recently published public stories (a feed), newest first."""
    query = visibility.public_stories().options(
        selectinload(Story.media), selectinload(Story.organisation)
    )
    if collection is not None:
        query = query.where(
            Story.id.in_(
                db.select(CollectionItem.story_id).where(
                    CollectionItem.collection_id == collection.id
                )
            )
        )
    return list(db.session.scalars(query.limit(limit)))


def changed_at_of_stories(story_ids: list[int]) -> dict[int, datetime]:
    """Each story's public datestamp (feeds' ``updated``)."""
    if not story_ids:
        return {}
    rows = db.session.execute(
        db.select(PublicRecord.story_id, PublicRecord.changed_at).where(
            PublicRecord.story_id.in_(story_ids)
        )
    )
    return {i: _aware(c) for i, c in rows}


@dataclass(frozen=True)
class ResultPicture:
    """What a search result shows beside its title: the story's kind and its first picture."""

    kind: str
    media_id: int | None = None
    alt_text: str = ""
    width: int | None = None
    height: int | None = None


def result_pictures(story_ids: list[int]) -> dict[int, ResultPicture]:
    """Kind and thumbnail of each *public* story among ``story_ids``, in one query.

    Search results come from the index; the page adds each one's first ready image that has a
    thumbnail (its description is the alternative text). A story that is not public gets
    nothing, whatever the index said.
    """
    if not story_ids:
        return {}
    rows = db.session.scalars(
        db.select(Story)
        .where(Story.id.in_(story_ids), Story.is_public)
        .options(selectinload(Story.media))
    ).all()
    pictures = {}
    for story in rows:
        first = next(
            (m for m in story.media if m.state == "ready" and "thumb" in (m.derivatives or {})),
            None,
        )
        if first is None:
            pictures[story.id] = ResultPicture(kind=story.kind)
            continue
        thumb = first.derivatives["thumb"]
        pictures[story.id] = ResultPicture(
            kind=story.kind,
            media_id=first.id,
            alt_text=first.alt_text,
            width=thumb.get("width"),
            height=thumb.get("height"),
        )
    return pictures
