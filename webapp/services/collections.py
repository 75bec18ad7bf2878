"""Curated collections: archivists group published stories, in an order, with an introduction.

The rules for collections live here (who may curate, what the public may see of a collection,
how an introduction becomes safe HTML); ``webapp.blueprints.curation`` and ``public`` only call
them. Never show the public a draft collection or a story that is not published, whatever a
collection contains, and never output an introduction without passing it through nh3. Curation
functions add to the caller's unit of work and never commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import nh3
import redis
from flask_babel import gettext
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from webapp import ordering, page_cache
from webapp.errors import BadRequest, InvalidInput, NotFound
from webapp.extensions import db
from webapp.identifiers import parse_id
from webapp.models import (
    Collection,
    CollectionItem,
    CollectionView,
    MediaAsset,
    MediaKind,
    MediaState,
    Story,
    StoryStatus,
    User,
)
from webapp.services import access, audit, backends, outbox
from webapp.slugs import slugify
from webapp.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

# CommonMark without raw HTML; nh3 then enforces the allow-list whatever the parser produced.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False})
_ALLOWED_TAGS = {
    "p", "br", "strong", "em", "a", "ul", "ol", "li", "blockquote", "h2", "h3", "h4", "code",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


def render_introduction(text: str) -> Markup:
    """Markdown → HTML an archivist cannot use to inject script, styles or tracking images."""
    html = _markdown.render(text or "")
    clean = nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(clean)  # noqa: S704 - sanitised by nh3 just above


def record_view(
    uow: UnitOfWork, collection_id: int, views: int = 1, day: date | None = None
) -> None:
    """Count ``views`` readings of a collection page on ``day`` (today by default)."""
    day = day or datetime.now(UTC).date()
    bump = (
        db.update(CollectionView)
        .where(CollectionView.collection_id == collection_id, CollectionView.day == day)
        .values(views=CollectionView.views + views)
    )
    if db.session.execute(bump).rowcount == 0:
        try:
            with db.session.begin_nested():
                uow.add(CollectionView(collection_id=collection_id, day=day, views=views))
        except IntegrityError:  # another request created the day's row first
            db.session.execute(bump)


def _published_id(slug: str) -> int | None:
    return db.session.scalar(
        db.select(Collection.id).where(Collection.slug == slug, Collection.published.is_(True))
    )


def record_view_by_slug(uow: UnitOfWork, slug: str) -> None:
    """Count one reading of the published collection ``slug`` now (nothing if there is none);
    a failure is logged and never breaks the page (the view opens a unit of work for it)."""
    collection_id = _published_id(slug)
    if collection_id is not None:
        record_view(uow, collection_id)


# Readings counted in Redis while pages are served from the page cache: a database write per
# reading would cost more than serving the page. The relay adds them to ``collection_views``
# every few seconds (``add_view_counts``), so the indicators lag by that much at most.
_VIEWS = "collection-views"


def _views_key() -> str:
    return f"{backends.settings().queue_prefix}-{_VIEWS}"


def count_view_later(slug: str) -> bool:
    """Count one reading of ``slug`` in Redis; ``False`` when it must be counted now instead
    (no page cache, or Redis unreachable), so that no reading is lost."""
    if not page_cache.enabled():
        return False
    field = f"{datetime.now(UTC).date().isoformat()}|{slug}"
    try:
        backends.redis_connection().hincrby(_views_key(), field, 1)
    except (redis.RedisError, OSError):
        return False
    return True


def take_view_counts() -> dict[tuple[date, str], int]:
    """Take the readings counted in Redis (they are removed there), by day and slug."""
    pipe = backends.redis_connection().pipeline(transaction=True)
    pipe.hgetall(_views_key())
    pipe.delete(_views_key())
    counted, _ = pipe.execute()
    out: dict[tuple[date, str], int] = {}
    for field, views in counted.items():
        day, _, slug = field.decode().partition("|")
        out[(date.fromisoformat(day), slug)] = int(views)
    return out


def add_view_counts(uow: UnitOfWork, counts: dict[tuple[date, str], int]) -> int:
    """Add readings taken from Redis to ``collection_views``; if this unit of work rolls back
    they go back to Redis for the next try. Returns how many readings were added."""
    uow.on_rollback(lambda: _give_back(counts))
    added = 0
    for (day, slug), views in sorted(counts.items()):
        collection_id = _published_id(slug)
        if collection_id is not None:  # unpublished meanwhile: its readings are not kept
            record_view(uow, collection_id, views, day)
            added += views
    return added


def _give_back(counts: dict[tuple[date, str], int]) -> None:
    try:
        pipe = backends.redis_connection().pipeline(transaction=True)
        for (day, slug), views in counts.items():
            pipe.hincrby(_views_key(), f"{day.isoformat()}|{slug}", views)
        pipe.execute()
    except (redis.RedisError, OSError):
        log.warning("%d collection reading(s) could not be put back", sum(counts.values()))


def most_viewed(days: int = 30, limit: int = 10) -> list[tuple[Collection, int]]:
    since = datetime.now(UTC).date() - timedelta(days=days - 1)
    total = db.func.sum(CollectionView.views)
    rows = db.session.execute(
        db.select(Collection, total)
        .join(CollectionView, CollectionView.collection_id == Collection.id)
        .where(CollectionView.day >= since)
        .group_by(Collection.id)
        .order_by(total.desc(), Collection.title)
        .limit(limit)
    ).all()
    return [(collection, int(views)) for collection, views in rows]


# --- what the public sees -----------------------------------------------------------------------


def public_collections_query(*, featured: bool | None = None):
    query = db.select(Collection).where(Collection.published.is_(True))
    if featured is not None:
        query = query.where(Collection.featured.is_(featured))
    return query.order_by(Collection.created_at.desc(), Collection.id.desc())


def featured_collections(limit: int) -> list[Collection]:
    """The newest published collections marked as featured (the home page)."""
    return db.session.scalars(public_collections_query(featured=True).limit(limit)).all()


def get_public_collection(slug: str) -> Collection:
    collection = db.session.scalar(
        db.select(Collection).where(Collection.slug == slug, Collection.published.is_(True))
    )
    if collection is None:
        raise NotFound(gettext("no such collection"))
    return collection


def public_items_query(collection: Collection):
    """The collection's published stories, in the archivist's order."""
    return (
        db.select(Story)
        .join(CollectionItem, CollectionItem.story_id == Story.id)
        .where(CollectionItem.collection_id == collection.id, Story.is_public)
        .order_by(CollectionItem.position, CollectionItem.id)
        .options(selectinload(Story.media))  # the cards' images: one query, not one per story
    )


def _cover_candidates_query(collection: Collection):
    """Ready images of the collection's published stories, in the archivist's order."""
    return (
        db.select(MediaAsset)
        .join(Story, MediaAsset.story_id == Story.id)
        .join(CollectionItem, CollectionItem.story_id == Story.id)
        .where(
            CollectionItem.collection_id == collection.id,
            Story.is_public,
            MediaAsset.kind == MediaKind.IMAGE.value,
            MediaAsset.state == MediaState.READY.value,
        )
        .order_by(CollectionItem.position, CollectionItem.id, MediaAsset.position, MediaAsset.id)
    )


def cover_candidates(collection: Collection) -> list[MediaAsset]:
    """The images an archivist may choose as cover: what the public could see of the collection."""
    return db.session.scalars(_cover_candidates_query(collection)).all()


def cover_image(collection: Collection) -> MediaAsset | None:
    """The archivist's chosen cover while it is still public, else the automatic one.

    The chosen image counts only while its story is published, still in the collection and the
    image ready: a withdrawn story must never keep showing its photo as a cover. The automatic
    cover is the first ready image of the first published story, in the archivist's order.
    """
    query = _cover_candidates_query(collection)
    if collection.cover_media_id is not None:
        chosen = db.session.scalar(query.where(MediaAsset.id == collection.cover_media_id).limit(1))
        if chosen is not None:
            return chosen
    return db.session.scalar(query.limit(1))


def set_cover(
    uow: UnitOfWork, collection_id: int, media_id: int | None, actor: User | None
) -> None:
    """Choose the cover (``None``: back to the automatic cover) among :func:`cover_candidates`."""
    access.require_archivist(actor)
    collection = get_collection(collection_id)
    if media_id is not None and media_id not in {m.id for m in cover_candidates(collection)}:
        raise BadRequest(
            gettext("the cover must be a ready image of a published story of this collection"),
            field="cover_media_id",
        )
    collection.cover_media_id = media_id
    audit.record("collection.cover_chosen", "collection", collection.id, actor=actor,
                 details={"media_id": media_id})  # fmt: skip
    log.info("collection %s cover set to media %s by user %s", collection.id, media_id, actor.id)


def public_collections_of(story: Story) -> list[Collection]:
    return db.session.scalars(
        db.select(Collection)
        .join(CollectionItem, CollectionItem.collection_id == Collection.id)
        .where(CollectionItem.story_id == story.id, Collection.published.is_(True))
        .order_by(Collection.title)
    ).all()


# --- curation (archivists) ----------------------------------------------------------------------


#: Longest introduction accepted (Markdown source).
MAX_INTRODUCTION = 20_000


@dataclass
class CollectionFields:
    title: str
    slug: str
    introduction: str
    published: bool
    featured: bool


def _check_fields(fields: CollectionFields, collection_id: int | None) -> CollectionFields:
    title = " ".join(fields.title.split())
    if not title:
        raise InvalidInput(gettext("a collection needs a title"), field="title")
    if len(title) > 300:
        raise InvalidInput("the title is longer than 300 characters", field="title")
    if len(fields.introduction or "") > MAX_INTRODUCTION:
        raise InvalidInput(
            f"the introduction is longer than {MAX_INTRODUCTION} characters", field="introduction"
        )
    slug = slugify(fields.slug or title, max_length=100)
    if not slug:
        raise InvalidInput("the short name (slug) needs letters or digits", field="slug")
    clash = db.session.scalar(db.select(Collection.id).where(Collection.slug == slug))
    if clash is not None and clash != collection_id:
        raise InvalidInput(
            gettext("another collection already uses the short name “%(slug)s”", slug=slug),
            field="slug",
        )
    return CollectionFields(title, slug, fields.introduction or "", fields.published,
                            fields.featured)  # fmt: skip


def save_collection(
    uow: UnitOfWork, fields: CollectionFields, actor: User | None, collection_id: int | None = None
):
    """Create or update a collection; a featured collection must be published."""
    access.require_archivist(actor)
    fields = _check_fields(fields, collection_id)
    if collection_id is None:
        collection = Collection()
        uow.add(collection)
    else:
        collection = get_collection(collection_id)
    collection.title = fields.title
    collection.slug = fields.slug
    collection.introduction = fields.introduction
    collection.published = fields.published
    collection.featured = fields.featured and fields.published
    uow.flush()
    audit.record(
        "collection.saved",
        "collection",
        collection.id,
        actor=actor,
        details={"published": collection.published, "featured": collection.featured},
    )
    _emit_changed(collection, [item.story_id for item in collection.items])
    log.info("collection %s saved by user %s", collection.id, actor.id)
    return collection


def save_with_stories(
    uow: UnitOfWork,
    fields: CollectionFields,
    story_ids: list[int] | None,
    actor: User | None,
    collection_id: int | None = None,
) -> Collection:
    """Create or update a collection and, when ``story_ids`` is given, its stories in that
    order: the API's one action (``POST``/``PUT``/``PATCH /api/v1/collections``). A refused
    story leaves nothing changed (the caller's unit of work rolls back)."""
    collection = save_collection(uow, fields, actor, collection_id)
    if story_ids is not None:
        set_stories(uow, collection.id, story_ids, actor)
    return collection


def _emit_changed(collection: Collection, story_ids: list[int]) -> None:
    """Search documents carry their collections' titles (a facet): refresh the members'."""
    if story_ids:
        outbox.emit("collection.changed", {"collection_id": collection.id, "story_ids": story_ids})


def all_collections() -> list[Collection]:
    """Every collection, drafts included, by title (the curation screen)."""
    return db.session.scalars(db.select(Collection).order_by(Collection.title)).all()


def story_for_descriptions(story_id: int) -> Story:
    """The story whose image descriptions an archivist edits."""
    story = db.session.get(Story, story_id)
    if story is None:
        raise NotFound(gettext("no such story"))
    return story


def get_collection(collection_id: int) -> Collection:
    collection = db.session.get(Collection, collection_id)
    if collection is None:
        raise NotFound(gettext("no such collection"))
    return collection


def find_collection(reference: str) -> Collection:
    """A collection, drafts included, by its id (a number) or its short name (the API's
    ``/collections/<id or slug>``). Ids win: a slug made only of digits is also an id."""
    collection_id = parse_id(reference)
    collection = db.session.get(Collection, collection_id) if collection_id is not None else None
    if collection is None:
        collection = db.session.scalar(db.select(Collection).where(Collection.slug == reference))
    if collection is None:
        raise NotFound(gettext("no such collection"))
    return collection


def set_stories(
    uow: UnitOfWork, collection_id: int, story_ids: list[int], actor: User | None
) -> None:
    """Make the collection hold exactly ``story_ids``, in that order (the API's ``story_ids``).

    Every id must be a published story (422 naming the others, nothing changed); a story
    already in the collection keeps its item. Members that come or go are re-indexed.
    """
    access.require_archivist(actor)
    collection = get_collection(collection_id)
    wanted = list(dict.fromkeys(story_ids))
    published = set(
        db.session.scalars(db.select(Story.id).where(Story.id.in_(wanted), Story.is_public))
    )
    wrong = [i for i in wanted if i not in published]
    if wrong:
        raise InvalidInput(
            gettext("not a published story: %(ids)s", ids=", ".join(str(i) for i in wrong)),
            field="story_ids",
        )
    before = {item.story_id: item for item in collection.items}
    for story_id, item in before.items():
        if story_id not in wanted:
            collection.items.remove(item)
    for position, story_id in enumerate(wanted):
        item = before.get(story_id)
        if item is None:
            collection.items.append(CollectionItem(story_id=story_id, position=position))
        else:
            item.position = position
    uow.flush()
    changed = sorted(set(before) ^ set(wanted))
    audit.record("collection.stories_set", "collection", collection.id, actor=actor,
                 details={"story_ids": wanted})  # fmt: skip
    _emit_changed(collection, changed)


def add_story(
    uow: UnitOfWork, collection_id: int, story_id: int, actor: User | None
) -> CollectionItem:
    """Append a story; only published or approved stories may be curated."""
    access.require_archivist(actor)
    collection = get_collection(collection_id)
    story = db.session.get(Story, story_id)
    if story is None:
        raise BadRequest(gettext("there is no story number %(id)s", id=story_id), field="story_id")
    if story.status not in (StoryStatus.PUBLISHED.value, StoryStatus.APPROVED.value):
        raise BadRequest(gettext("only approved or published stories can join a collection"),
                         field="story_id")  # fmt: skip
    for item in collection.items:
        if item.story_id == story_id:
            return item
    item = CollectionItem(story_id=story_id, position=len(collection.items))
    collection.items.append(item)
    uow.flush()
    audit.record("collection.item_added", "collection", collection.id, actor=actor,
                 details={"story_id": story_id})  # fmt: skip
    _emit_changed(collection, [story_id])
    return item


def remove_item(uow: UnitOfWork, collection_id: int, item_id: int, actor: User | None) -> None:
    access.require_archivist(actor)
    collection = get_collection(collection_id)
    item = ordering.remove(collection.items, item_id)
    if item is None:
        raise NotFound(gettext("no such item in this collection"))
    audit.record("collection.item_removed", "collection", collection.id, actor=actor,
                 details={"story_id": item.story_id})  # fmt: skip
    _emit_changed(collection, [item.story_id])


def move_item(
    uow: UnitOfWork, collection_id: int, item_id: int, offset: int, actor: User | None
) -> None:
    """Move one item up (-1) or down (+1): the no-JavaScript way to reorder."""
    access.require_archivist(actor)
    collection = get_collection(collection_id)
    if not ordering.move(collection.items, item_id, offset):
        raise NotFound(gettext("no such item in this collection"))
    audit.record("collection.reordered", "collection", collection.id, actor=actor,
                 details={"item_id": item_id, "offset": offset})  # fmt: skip


def set_order(
    uow: UnitOfWork, collection_id: int, positions: dict[int, float], actor: User | None
) -> None:
    """Apply the numbers an archivist typed next to each item (ties keep the current order)."""
    access.require_archivist(actor)
    collection = get_collection(collection_id)
    current = {
        i.id: n for n, i in enumerate(sorted(collection.items, key=lambda i: (i.position, i.id)))
    }
    items = sorted(
        collection.items, key=lambda i: (positions.get(i.id, current[i.id]), current[i.id])
    )
    for position, item in enumerate(items):
        item.position = position
    audit.record("collection.reordered", "collection", collection.id, actor=actor)


# --- image descriptions (archivists) ------------------------------------------------------------

MAX_DESCRIPTION = 1000


def describe_images(
    uow: UnitOfWork, story_id: int, descriptions: dict[int, str], actor: User | None
) -> int:
    """Set the alternative text of a story's images; returns how many changed.

    Lives with curation because archivists fix descriptions while preparing stories for the
    public (imports through the API may arrive without any). Only the story's own images are
    touched; the image row's ``updated_at`` moves, so public pages revalidate their ETag.
    """
    access.require_archivist(actor)
    story = db.session.get(Story, story_id)
    if story is None:
        raise NotFound(gettext("no such story"))
    changed = 0
    for media in story.media:
        if media.id not in descriptions:
            continue
        text = " ".join(descriptions[media.id].split())
        if len(text) > MAX_DESCRIPTION:
            raise BadRequest(
                f"a description is longer than {MAX_DESCRIPTION} characters", field="alt_text"
            )
        if text != media.alt_text:
            media.alt_text = text
            changed += 1
    if changed:
        audit.record("story.images_described", "story", story.id, actor=actor,
                     details={"changed": changed})  # fmt: skip
    return changed
