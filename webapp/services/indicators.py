"""Figures for the départements: how many stories, in which state, from whom, in which language.

The action plans ask for indicators to guide the work; these are counts over the database, read
only. Never expose them to the public (the view requires an archivist) and never count a story
twice in one table.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from webapp.extensions import db
from webapp.models import Collection, CollectionItem, Organisation, Story
from webapp.services import collections as collection_service

#: The places named by most stories that the indicators show (the rest would be unreadable).
PLACES_SHOWN = 20


@dataclass
class Indicators:
    total: int
    by_status: list[tuple[str, int]]
    by_organisation: list[tuple[str, int]]
    by_language: list[tuple[str, int]]
    by_place: list[tuple[str, int]]
    by_decade: list[tuple[int | None, int]]
    published_per_month: list[tuple[str, int]]
    collections: list[tuple[Collection, int]]
    most_viewed: list[tuple[Collection, int]]


def _grouped(column, *where) -> list[tuple[object, int]]:
    rows = db.session.execute(
        db.select(column, db.func.count(Story.id)).where(*where).group_by(column)
    ).all()
    return sorted(((key, count) for key, count in rows), key=lambda r: (-r[1], str(r[0])))


def compute() -> Indicators:
    total = db.session.scalar(db.select(db.func.count(Story.id))) or 0
    organisation_rows = db.session.execute(
        db.select(Organisation.name, db.func.count(Story.id))
        .join(Story, Story.organisation_id == Organisation.id)
        .group_by(Organisation.name)
    ).all()
    without = db.session.scalar(
        db.select(db.func.count(Story.id)).where(Story.organisation_id.is_(None))
    )
    by_organisation = sorted(((n, c) for n, c in organisation_rows), key=lambda r: (-r[1], r[0]))
    if without:
        by_organisation.append(("", without))

    decades: Counter[int | None] = Counter()
    months: Counter[str] = Counter()
    places: Counter[str] = Counter()
    for start, published_at, public, named in db.session.execute(
        db.select(Story.period_start, Story.published_at, Story.is_public, Story.places)
    ):
        decades[None if start is None else start - start % 10] += 1
        # A story that names the same place twice counts once for it.
        for place in {" ".join(p.split()): None for p in named or [] if p.strip()}:
            places[place] += 1
        if public and published_at is not None:
            months[published_at.strftime("%Y-%m")] += 1

    collection_rows = db.session.execute(
        db.select(Collection, db.func.count(CollectionItem.id))
        .outerjoin(CollectionItem, CollectionItem.collection_id == Collection.id)
        .group_by(Collection.id)
        .order_by(Collection.title)
    ).all()
    return Indicators(
        total=total,
        by_status=_grouped(Story.status),
        by_organisation=by_organisation,
        by_language=_grouped(Story.language),
        by_place=sorted(places.items(), key=lambda r: (-r[1], r[0]))[:PLACES_SHOWN],
        by_decade=sorted(decades.items(), key=lambda r: (r[0] is None, r[0] or 0)),
        published_per_month=sorted(months.items()),
        collections=[(c, n) for c, n in collection_rows],
        most_viewed=collection_service.most_viewed(days=30),
    )
