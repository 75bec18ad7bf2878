"""Listings of stories: whole sets, scoped in SQL, paginated by cursor, total shown.

The archive's moderation queue, the teacher's queue and ``GET /api/v1/stories`` all read here,
so they agree on what a person may list and never lose a story: the caller's scope
(:func:`webapp.services.access.listable_by`) and the filters are one SQL query, word searches
take the index's *full* set of matching ids (never a top-n page), and keyset pagination on the
story id reaches every matching story by following ``next``. The public listing
(:func:`list_public_stories`, ``GET /api/v1/stories`` without a token) pages the same way over
published stories only. This module reads only; it must never change data, and views must not
query the index or the stories table around it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext
from sqlalchemy.orm import selectinload

from webapp.errors import BadRequest, SearchUnavailable
from webapp.extensions import db
from webapp.identifiers import parse_id
from webapp.models import CollectionItem, MediaAsset, Story, StoryStatus, User
from webapp.search.contract import IndexRebuilding, SearchRequest
from webapp.search.contract import SearchUnavailable as EngineUnavailable
from webapp.services import access, backends
from webapp.services.searching import MESSAGE_REBUILDING, MESSAGE_UNAVAILABLE

#: The statuses an archivist still has to act on (``status=open``).
OPEN_STATUSES: tuple[str, ...] = (
    StoryStatus.SUBMITTED.value,
    StoryStatus.IN_REVIEW.value,
    StoryStatus.CHANGES_REQUESTED.value,
)
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
#: With more matching ids than this, the word filter runs over the scoped ids in Python rather
#: than as one ``IN (…)`` list (SQLite binds at most 32,766 parameters).
MAX_IN_LIST = 900


@dataclass
class StoryFilter:
    """What a listing asks for; every field narrows the set (empty = no condition)."""

    statuses: list[str] = field(default_factory=list)
    words: str = ""
    organisation_id: int | None = None
    language: str = ""
    has_images: bool | None = None
    since: datetime | None = None
    until: datetime | None = None
    newest_first: bool = False
    #: ``False``: leave out anonymous stories waiting in quarantine (the review queue);
    #: ``True``: only those; ``None``: no condition.
    quarantined: bool | None = None


@dataclass
class Listing:
    total: int
    stories: list[Story]
    next_cursor: str | None


def encode_cursor(story_id: int) -> str:
    return base64.urlsafe_b64encode(f"after:{story_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The story id a cursor continues after; a damaged cursor is a clear 400."""
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        story_id = parse_id(number)
        if prefix != "after" or story_id is None:
            raise ValueError(text)
        return story_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadRequest(
            gettext("cursor is not one this API gave out; start again without it"), field="cursor"
        ) from exc


def parse_statuses(values: Iterable[str]) -> list[str]:
    """``open`` and status names, comma-separated or repeated; unknown names are a 400."""
    known = {s.value for s in StoryStatus}
    out: list[str] = []
    for value in values:
        for name in (v.strip() for v in value.split(",")):
            if not name:
                continue
            if name == "open":
                out.extend(OPEN_STATUSES)
            elif name in known:
                out.append(name)
            else:
                raise BadRequest(
                    f"unknown status {name!r}; use open or one of: " + ", ".join(sorted(known)),
                    field="status",
                )
    return list(dict.fromkeys(out))


def matching_ids(words: str) -> set[int]:
    """Every story (any status) whose words match, from the index's full result set."""
    try:
        found = backends.search_index().matching_story_ids(words)
    except IndexRebuilding as exc:
        raise SearchUnavailable(MESSAGE_REBUILDING, rebuilding=True) from exc
    except EngineUnavailable as exc:
        raise SearchUnavailable(MESSAGE_UNAVAILABLE) from exc
    if found is None:
        raise BadRequest(
            gettext("q holds no word to search for; try a word, a place or a name"), field="q"
        )
    return found


def _conditions(user: User, wanted: StoryFilter) -> list:
    conditions = [access.listable_by(user)]
    if wanted.statuses:
        conditions.append(Story.status.in_(wanted.statuses))
    if wanted.organisation_id is not None:
        conditions.append(Story.organisation_id == wanted.organisation_id)
    if wanted.language:
        conditions.append(Story.language == wanted.language)
    if wanted.quarantined is not None:
        conditions.append(Story.quarantined.is_(wanted.quarantined))
    if wanted.has_images is not None:
        with_media = db.select(MediaAsset.id).where(MediaAsset.story_id == Story.id).exists()
        conditions.append(with_media if wanted.has_images else ~with_media)
    if wanted.since is not None:
        conditions.append(Story.created_at >= wanted.since)
    if wanted.until is not None:
        conditions.append(Story.created_at <= wanted.until)
    return conditions


def list_stories(
    user: User, wanted: StoryFilter, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> Listing:
    """One page of the stories ``user`` may list that match ``wanted``, with the total.

    Order is by story id (submission order), oldest first unless ``newest_first``; the cursor
    continues after the last story of the previous page, so stories added meanwhile never
    shift a page and every matching story is reached exactly once.
    """
    words = wanted.words.strip()
    matched = matching_ids(words) if words else None
    return _page(_conditions(user, wanted), matched, wanted.newest_first, cursor, limit)


@dataclass
class PublicFilter:
    """What the public listing (``GET /api/v1/stories`` without a token) asks for.

    ``words`` and ``facets`` mean what they mean on the search page (the same index answers
    them: ``place``, ``decade``, ``theme``, ``language`` with the values search shows);
    ``organisation_id`` and ``collection_id`` select by record, as the rest of the API does.
    """

    words: str = ""
    facets: dict[str, list[str]] = field(default_factory=dict)
    organisation_id: int | None = None
    collection_id: int | None = None
    newest_first: bool = True


#: The search facets the public listing filters on through the index.
PUBLIC_FACETS: tuple[str, ...] = ("kind", "place", "decade", "theme", "language")


def list_public_stories(
    wanted: PublicFilter, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> Listing:
    """One page of the published stories that match ``wanted``, with the total.

    Published only, whatever the filters: the one visibility rule (``Story.is_public``) is a
    condition of the SQL query, and the index's answer only narrows it. Words and facets take
    the index's *whole* result set, as the staff listing does, so paging by cursor reaches every
    match exactly once.
    """
    conditions = [Story.is_public]
    if wanted.organisation_id is not None:
        conditions.append(Story.organisation_id == wanted.organisation_id)
    if wanted.collection_id is not None:
        members = db.select(CollectionItem.story_id).where(
            CollectionItem.collection_id == wanted.collection_id
        )
        conditions.append(Story.id.in_(members))
    matched = None
    facets = {k: v for k, v in wanted.facets.items() if k in PUBLIC_FACETS and v}
    if wanted.words.strip() or facets:
        matched = _public_matches(wanted.words.strip(), facets)
    return _page(conditions, matched, wanted.newest_first, cursor, limit)


def _public_matches(words: str, facets: dict[str, list[str]]) -> set[int]:
    request = SearchRequest(q=words, filters=facets, public=True)
    try:
        found = backends.search_index().result_story_ids(request)
    except IndexRebuilding as exc:
        raise SearchUnavailable(MESSAGE_REBUILDING, rebuilding=True) from exc
    except EngineUnavailable as exc:
        raise SearchUnavailable(MESSAGE_UNAVAILABLE) from exc
    if found is None:
        raise BadRequest(
            gettext("q holds no word to search for; try a word, a place or a name"), field="q"
        )
    return found


def _page(
    conditions: list, matched: set[int] | None, newest_first: bool, cursor: str | None, limit: int
) -> Listing:
    """One keyset page (by story id) of the stories meeting ``conditions`` and, when given,
    among ``matched``; with the total of the whole set."""
    limit = max(1, min(MAX_LIMIT, int(limit)))
    after = decode_cursor(cursor)
    order = Story.id.desc() if newest_first else Story.id.asc()

    if matched is not None and len(matched) > MAX_IN_LIST:
        # Scope and filters in SQL (ids only), the word matches applied to that set.
        scoped = db.session.scalars(db.select(Story.id).where(*conditions).order_by(order))
        ids = [story_id for story_id in scoped if story_id in matched]
        total = len(ids)
        if after is not None:
            ids = [i for i in ids if (i < after if newest_first else i > after)]
        page_ids = ids[: limit + 1]
        stories = _load(page_ids[:limit], order)
        more = len(page_ids) > limit
    else:
        if matched is not None:
            conditions.append(Story.id.in_(sorted(matched)))
        total = db.session.scalar(db.select(db.func.count(Story.id)).where(*conditions)) or 0
        query = db.select(Story).where(*conditions)
        if after is not None:
            query = query.where(Story.id < after if newest_first else Story.id > after)
        rows = db.session.scalars(
            query.options(selectinload(Story.media), selectinload(Story.organisation))
            .order_by(order)
            .limit(limit + 1)
        ).all()
        stories, more = list(rows[:limit]), len(rows) > limit
    next_cursor = encode_cursor(stories[-1].id) if more and stories else None
    return Listing(total=total, stories=stories, next_cursor=next_cursor)


def _load(ids: list[int], order) -> list[Story]:
    if not ids:
        return []
    return list(
        db.session.scalars(
            db.select(Story)
            .where(Story.id.in_(ids))
            .options(selectinload(Story.media), selectinload(Story.organisation))
            .order_by(order)
        )
    )
