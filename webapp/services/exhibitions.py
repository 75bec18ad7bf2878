"""Printable exhibitions of published collections: when to build, what to print, what to serve.

A collection's exhibition is two PDFs (A3 panels, A4 booklet) laid out by
``webapp.printing.exhibition`` from what the public sees of the collection, built by the job
``workers.exhibitions.build_exhibition`` and kept in the object store under a key named by the
*fingerprint* of that public content (``webapp.media.keys.exhibition_key``). The rules:

- A PDF is served only while its fingerprint is the one of what the public sees now
  (:func:`download`): a story withdrawn, erased or edited a second ago is never printed from a
  stale file, whatever the queue is doing. Otherwise the request is answered "being made"
  (202) and a build is asked for through the outbox, at most once per content.
- Changes ask for builds by themselves: ``collection.changed`` and the story events that change
  what the public sees (published, withdrawn, edited, erased) reach the job through the relay;
  a withdrawal or an erasure also drops the stored PDFs that showed the story at once
  (:func:`drop_pdfs_showing`).
- Only published collections and published stories are printed; links are the stories' public
  URLs. Images are decoded from the originals (the best resolution there is) to upright sRGB
  JPEGs by the image pipeline (``webapp.media.imaging``), never embedded as uploaded.

Functions that change rows take the caller's unit of work and never commit.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import nh3
from flask import url_for
from flask_babel import gettext, ngettext
from flask_babel import gettext as _
from markdown_it import MarkdownIt
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from webapp import i18n, licences
from webapp.errors import BadRequest
from webapp.extensions import db
from webapp.media import imaging, keys
from webapp.models import (
    Collection,
    CollectionItem,
    Exhibition,
    MediaAsset,
    MediaState,
    Story,
    User,
    utcnow,
)
from webapp.printing import exhibition as layout
from webapp.services import access, audit, backends, outbox
from webapp.services import collections as collection_service
from webapp.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

#: Formats a visitor may ask for (``?format=``); ``panels`` is the default.
FORMATS = tuple(layout.PAGE_FORMATS)
#: Changes of the layout code that must rebuild every stored exhibition bump this.
LAYOUT_VERSION = 1
#: Seconds a client is asked to wait while a build runs (``Retry-After``).
RETRY_AFTER = 10
#: Seconds a client is asked to wait after a build failed (it is asked again after
#: ``REQUEST_AGAIN_AFTER``).
FAILED_RETRY_AFTER = 900
#: A request (or a build that started) older than this with nothing stored is asked again: the
#: job was lost (a worker killed mid-build) or failed for good.
REQUEST_AGAIN_AFTER = timedelta(minutes=15)
#: Requests for the PDF ask for a build at most this often per collection.
ASK_AT_MOST_EVERY = timedelta(seconds=60)

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False})


# --- the content and its fingerprint -----------------------------------------------------------


def _public_stories(collection_id: int) -> list[Story]:
    """The collection's published stories in the archivist's order, with their images."""
    return list(
        db.session.scalars(
            db.select(Story)
            .join(CollectionItem, CollectionItem.story_id == Story.id)
            .where(CollectionItem.collection_id == collection_id, Story.is_public)
            .options(selectinload(Story.media), selectinload(Story.organisation))
            .order_by(CollectionItem.position, CollectionItem.id)
        )
    )


def _ready_images(story: Story) -> list[MediaAsset]:
    ready = [m for m in story.media if m.state == MediaState.READY.value]
    return sorted(ready, key=lambda m: (m.position, m.id))[: layout.MAX_IMAGES_PER_STORY]


def _stamp(moment: datetime | None) -> str:
    return moment.replace(tzinfo=None).isoformat() if moment else ""


def fingerprint(collection: Collection, stories: list[Story] | None = None) -> str:
    """A short hash of everything the printed exhibition shows: it changes whenever a panel would.

    The collection's words and cover, each published story (its row's ``updated_at`` moves on
    any edit, publication or withdrawal), its printed images and the layout's version. Only
    what every process reads the same from the database: not the site's address, which the web
    process and a worker may know differently (``passages run`` without ``PUBLIC_URL``); a new
    address reaches the QR codes with the next build (an archivist's "make it now").
    """
    if stories is None:
        stories = _public_stories(collection.id)
    cover = collection_service.cover_image(collection)
    data = {
        "layout": LAYOUT_VERSION,
        "collection": [collection.title, collection.slug, collection.introduction,
                       collection.published, cover.id if cover else None],
        "stories": [
            [story.id, _stamp(story.updated_at),
             [[m.id, _stamp(m.updated_at)] for m in _ready_images(story)]]
            for story in stories
        ],
    }  # fmt: skip
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


# --- what visitors get -------------------------------------------------------------------------


@dataclass(frozen=True)
class Download:
    """The answer to a request for a PDF: its object key when ready, else how far the build is."""

    state: str
    key: str | None = None
    done: int = 0
    total: int = 0
    error: str | None = None


def check_format(value: str | None) -> str:
    fmt = (value or "panels").strip()
    if fmt not in FORMATS:
        raise BadRequest(
            f"format must be one of {', '.join(FORMATS)} (got {fmt[:40]!r})", field="format"
        )
    return fmt


def download(uow: UnitOfWork, slug: str, fmt: str) -> Download:
    """The stored PDF of a published collection's exhibition if it shows what the public sees now;
    otherwise ask for a build (once per content) and say how far it is. ``NotFound`` for a
    collection that is not published."""
    collection = collection_service.get_public_collection(slug)
    current = fingerprint(collection)
    row = db.session.get(Exhibition, collection.id)
    if row is not None and row.state == "ready" and row.built == current:
        key = keys.exhibition_key(collection.id, current, fmt)
        if backends.object_store().exists(key):
            return Download("ready", key=key)
        row.wanted = None  # recorded but lost from the store (a restore, a hand deletion)
    row = _ask(uow, collection.id, current, row)
    # A row still "ready" here holds PDFs of older content: for this request, a build is due.
    state = "requested" if row.state == "ready" else row.state
    return Download(state, done=row.done, total=row.total, error=row.error)


def _ask(uow: UnitOfWork, collection_id: int, current: str, row: Exhibition | None) -> Exhibition:
    """Ask for a build of ``current`` unless one is on its way, failed just now, or was asked for
    less than ``ASK_AT_MOST_EVERY`` ago.

    Why the last rule: the changes themselves emit the events that rebuild (this is the
    fallback for first requests and for changes no event names, like an image description);
    a request answered 202 again and again must never turn into one build per request.
    """
    now = utcnow()
    if row is None:
        try:
            with db.session.begin_nested():
                row = uow.add(Exhibition(collection_id=collection_id, story_ids=[]))
                uow.flush()
        except IntegrityError:  # another request created it first, and asked
            return db.session.get(Exhibition, collection_id)
    else:
        if row.requested_at is not None and _aware(row.requested_at) > now - ASK_AT_MOST_EVERY:
            return row
        if row.wanted == current and row.state in ("requested", "building", "failed"):
            since = {"requested": row.requested_at, "building": row.started_at,
                     "failed": row.finished_at}[row.state]  # fmt: skip
            if since is not None and _aware(since) > now - REQUEST_AGAIN_AFTER:
                return row
    request_build(uow, collection_id, row)
    row.wanted = current
    return row


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def request_build(uow: UnitOfWork, collection_id: int, row: Exhibition | None = None) -> Exhibition:
    """Mark the exhibition as asked for and emit ``exhibition.requested`` for the job."""
    if row is None:
        row = db.session.get(Exhibition, collection_id)
        if row is None:
            row = uow.add(Exhibition(collection_id=collection_id, story_ids=[]))
    row.state = "requested"
    row.done = 0
    row.error = None
    row.requested_at = utcnow()
    outbox.emit("exhibition.requested", {"collection_id": collection_id})
    return row


def request_now(uow: UnitOfWork, collection_id: int, actor: User | None) -> None:
    """An archivist's "make it now": only for a published collection."""
    access.require_archivist(actor)
    collection = collection_service.get_collection(collection_id)
    if not collection.published:
        raise BadRequest(gettext("publish the collection before printing its exhibition"),
                         field="published")  # fmt: skip
    row = request_build(uow, collection_id)
    row.wanted = fingerprint(collection)
    audit.record("exhibition.requested", "collection", collection_id, actor=actor)


def status(collection: Collection) -> Exhibition | None:
    """The build's row for the curation screen (``None``: never asked for)."""
    return db.session.get(Exhibition, collection.id)


def is_current(collection: Collection, row: Exhibition | None) -> bool:
    """Whether the stored PDFs show what the public sees of ``collection`` now."""
    return (
        row is not None
        and row.state == "ready"
        and collection.published
        and row.built == fingerprint(collection)
    )


# --- what changes ask for ----------------------------------------------------------------------


def collections_showing(story_id: int) -> list[int]:
    """Published collections that hold the story now, and any whose stored PDFs show it."""
    holding = set(
        db.session.scalars(
            db.select(CollectionItem.collection_id)
            .join(Collection, Collection.id == CollectionItem.collection_id)
            .where(CollectionItem.story_id == story_id, Collection.published.is_(True))
        )
    )
    showing = {
        row.collection_id
        for row in db.session.scalars(db.select(Exhibition))
        if story_id in (row.story_ids or [])
    }
    return sorted(holding | showing)


def drop_pdfs_showing(uow: UnitOfWork, story_id: int) -> list[str]:
    """A story left publication: forget every stored exhibition that shows it (the caller asks
    for new ones). Returns the object keys to delete once this commits."""
    if db.session.scalar(db.select(Story.id).where(Story.id == story_id, Story.is_public)):
        return []
    stale: list[str] = []
    for row in db.session.scalars(db.select(Exhibition).order_by(Exhibition.collection_id)):
        if story_id not in (row.story_ids or []):
            continue
        if row.built:
            stale += [keys.exhibition_key(row.collection_id, row.built, f) for f in FORMATS]
        row.built = None
        row.story_ids = []
        row.state = "requested"
    return stale


def current_built(collection_id: int) -> str | None:
    """The fingerprint of the stored PDFs while they are recorded as ready, else ``None``."""
    row = db.session.get(Exhibition, collection_id)
    return row.built if row is not None and row.state == "ready" else None


# --- the build (called by the job) -------------------------------------------------------------


@dataclass(frozen=True)
class BuildPlan:
    """What one build makes: the content's fingerprint and the stories it shows."""

    collection_id: int
    fingerprint: str
    story_ids: tuple[int, ...]
    total: int


def start_build(uow: UnitOfWork, collection_id: int) -> BuildPlan | None:
    """Begin a build, or ``None`` when there is nothing to make: the collection is gone or not
    published (its stored PDFs are then forgotten), or the stored PDFs already show its current
    content (a repeated delivery of the job)."""
    collection = db.session.get(Collection, collection_id)
    row = db.session.get(Exhibition, collection_id)
    if collection is None or not collection.published:
        if row is not None:
            row.state, row.built, row.story_ids, row.done, row.total = "requested", None, [], 0, 0
        return None
    stories = _public_stories(collection_id)
    current = fingerprint(collection, stories)
    store = backends.object_store()
    if (
        row is not None
        and row.state == "ready"
        and row.built == current
        and all(store.exists(keys.exhibition_key(collection_id, current, f)) for f in FORMATS)
    ):
        return None
    if row is None:
        row = uow.add(Exhibition(collection_id=collection_id, story_ids=[]))
    total = len(stories) + len(FORMATS) * layout.page_count_for(len(stories))
    row.state, row.wanted, row.done, row.total, row.error = "building", current, 0, total, None
    row.started_at = utcnow()
    return BuildPlan(collection_id, current, tuple(s.id for s in stories), total)


def record_progress(uow: UnitOfWork, collection_id: int, done: int) -> None:
    row = db.session.get(Exhibition, collection_id)
    if row is not None and row.state == "building":
        row.done = done


def finish_build(uow: UnitOfWork, plan: BuildPlan, sizes: dict[str, int]) -> bool:
    """Record the stored PDFs as current, unless the public content changed while they were
    being made (then they are not recorded, and the change has asked for its own build)."""
    collection = db.session.get(Collection, plan.collection_id)
    row = db.session.get(Exhibition, plan.collection_id)
    if collection is None or row is None or not collection.published:
        return False
    if fingerprint(collection) != plan.fingerprint:
        return False
    row.state, row.built, row.story_ids = "ready", plan.fingerprint, list(plan.story_ids)
    row.done = row.total = plan.total
    row.panels_bytes, row.booklet_bytes = sizes.get("panels"), sizes.get("booklet")
    row.finished_at = utcnow()
    return True


def fail_build(uow: UnitOfWork, collection_id: int, reason: str) -> None:
    row = db.session.get(Exhibition, collection_id)
    if row is not None and row.state != "ready":
        row.state = "failed"
        row.error = reason[:1000]
        row.finished_at = utcnow()


def content(
    plan: BuildPlan, progress: Callable[[int], None] | None = None
) -> layout.ExhibitionContent:
    """What the panels show, read again from the database (only what is public) and the store.

    Needs an app context addressed to the public site (story links are absolute URLs) and
    French-or-configured interface strings; the job provides both. ``progress(n)`` after each
    story's images are ready.
    """
    collection = db.session.get(Collection, plan.collection_id)
    stories = [s for s in _public_stories(plan.collection_id) if s.id in set(plan.story_ids)]
    store = backends.object_store()
    panels = []
    for n, story in enumerate(stories, start=1):
        panels.append(_panel(story, store))
        if progress:
            progress(n)
    cover_media = collection_service.cover_image(collection)
    cover = _print_image(cover_media, store, "cover") if cover_media else None
    moments = [s.updated_at for s in stories if s.updated_at] + [collection.created_at]
    created = max(_aware(m) for m in moments if m is not None)
    return layout.ExhibitionContent(
        title=collection.title,
        introduction=plain_text(collection.introduction),
        url=url_for("public.collection", slug=collection.slug, _external=True),
        stories=tuple(panels),
        cover=cover,
        labels=layout.Labels(
            read_online=_("Read this story online"),
            see_collection=_("The whole collection online"),
            stories=ngettext("%(num)d story", "%(num)d stories", len(panels)),
            site="Passages",
        ),
        created=created,
        language=i18n.DEFAULT_LANGUAGE,
    )


def _panel(story: Story, store) -> layout.PanelStory:
    where = ", ".join(story.places or [])
    where_when = " · ".join(part for part in (where, story.period or "") if part)
    credit = story.extra.get("credit") or (story.organisation.name if story.organisation else "")
    credits = []
    if credit:
        credits.append(_("Credit: %(credit)s", credit=credit))
    deed = licences.deed_url(story.licence)
    label = f"{story.licence} — {deed}" if deed else story.licence
    credits.append(_("Licence: %(licence)s", licence=label))
    images = []
    for index, media in enumerate(_ready_images(story)):
        image = _print_image(media, store, "main" if index == 0 else "secondary")
        if image is not None:
            images.append(image)
    return layout.PanelStory(
        title=story.title,
        body=story.body or story.extra.get("summary") or "",
        # The permanent short address (it redirects to the readable one): a QR code of an
        # Arabic title's percent-encoded slug would be too dense to scan across a room.
        url=url_for("public.story", story_id=story.id, slug=None, _external=True),
        direction=i18n.text_direction(story.language),
        language=story.language,
        where_when=where_when,
        credits=tuple(credits),
        images=tuple(images),
    )


def _print_image(media: MediaAsset, store, role: str) -> layout.PrintImage | None:
    """The image at print size: decoded from the original (EXIF orientation applied, CMYK and ICC
    profiles converted to sRGB by the image pipeline), else from its largest derivative."""
    spec = imaging.DerivativeSpec("print", layout.IMAGE_PIXELS[role], format="JPEG", quality=88)
    sources = [media.original_key] + [
        entry["key"]
        for entry in sorted(
            (media.derivatives or {}).values(), key=lambda e: -(e.get("width") or 0)
        )
    ]
    for key in sources:
        try:
            made = imaging.build_derivatives(store.get(key), [spec])[0]
        except (FileNotFoundError, imaging.ImageRejected) as exc:
            log.warning("exhibition: media %s cannot be printed from %s (%s)", media.id, key, exc)
            continue
        return layout.PrintImage(made.data, made.width, made.height, media.alt_text or "")
    return None


def plain_text(markdown_text: str) -> str:
    """An introduction's Markdown as plain paragraphs (a PDF is not a web page)."""
    rendered = _markdown.render(markdown_text or "")
    rendered = re.sub(r"</(p|h[1-6]|li|blockquote)>", "\n\n", rendered)
    rendered = re.sub(r"<li>", "• ", rendered)
    text = html.unescape(nh3.clean(rendered, tags=set()))
    return "\n".join(p.strip() for p in re.split(r"\n\s*\n", text) if p.strip())
