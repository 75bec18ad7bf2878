"""Figures for the départements: how many stories, in which state, from whom, in which language.

The action plans ask for indicators to guide the work; these are counts over the database, read
only. Never expose them to the public (the view requires an archivist) and never count a story
twice in one table.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from flask_babel import gettext
from flask_babel import lazy_gettext as _

from webapp.extensions import db
from webapp.models import (
    Collection,
    CollectionItem,
    Organisation,
    Story,
    StoryKind,
    StoryResponse,
    StoryStatus,
    User,
)
from webapp.services import collections as collection_service

#: The places named by most stories that the indicators show (the rest would be unreadable).
PLACES_SHOWN = 20


@dataclass(frozen=True)
class DocumentFigures:
    """What was done with one archive document (a row of the yearly report)."""

    id: int
    title: str
    reference: str
    published: bool
    #: Class projects that worked on it (0 until class projects record documents).
    projects: int
    #: Distinct classes of the students who responded to it.
    classes: int
    #: Responses handed in (drafts not counted), whatever became of them.
    responses: int
    #: Of which published.
    published_responses: int


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


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)


#: The columns of the documents' CSV, in order (``documents_csv_rows``): headers people read in
#: their spreadsheet, so they are translated like every other visible word.
DOCUMENT_COLUMNS = (
    _("Document number"),
    _("Title"),
    _("Call number"),
    _("Document published"),
    _("Class projects"),
    _("Classes"),
    _("Responses written"),
    _("Responses published"),
)


def documents_csv_rows(figures: list[DocumentFigures]) -> list[list[str | int]]:
    """The yearly report's table, header first, one row per document (a spreadsheet opens it)."""
    rows: list[list[str | int]] = [[str(column) for column in DOCUMENT_COLUMNS]]
    for f in figures:
        rows.append([f.id, f.title, f.reference or "",
                     str(gettext("yes") if f.published else gettext("no")), f.projects,
                     f.classes, f.responses, f.published_responses])  # fmt: skip
    return rows


def projects_per_document(year: int | None = None) -> dict[int, int]:
    """How many class projects worked on each document (by document id).

    Class projects (teachers' projects from dossiers) are where this number comes from; until
    they record the documents they assign, no document has a project and this is empty. The
    class projects' module replaces this body with its count (projects started in ``year``).
    """
    del year
    return {}


def document_indicators(year: int | None = None) -> list[DocumentFigures]:
    """Per archive document: projects, classes and responses (handed in, and published).

    ``year`` counts only the responses handed in that year (UTC), for the yearly report. A
    response's class is the class it was written in, else its author's class; a response
    without a class counts as a response but adds no class. Every document is listed, published
    or not, with zeros where nothing was done.
    """
    story_class = db.func.coalesce(Story.class_id, User.class_id)
    query = (
        db.select(
            StoryResponse.document_id,
            db.func.count(Story.id),
            db.func.count(db.distinct(story_class)),
            db.func.sum(db.case((Story.is_public, 1), else_=0)),
        )
        .join(Story, Story.id == StoryResponse.story_id)
        .outerjoin(User, User.id == Story.submitted_by_id)
        .where(Story.status != StoryStatus.DRAFT.value)
        .group_by(StoryResponse.document_id)
    )
    if year is not None:
        start, end = _year_bounds(year)
        query = query.where(Story.created_at >= start, Story.created_at < end)
    counts = {row[0]: row[1:] for row in db.session.execute(query)}
    projects = projects_per_document(year)
    documents = db.session.execute(
        db.select(Story.id, Story.title, Story.source_reference, Story.is_public)
        .where(Story.kind == StoryKind.DOCUMENT.value)
        .order_by(Story.title, Story.id)
    )
    figures = []
    for document_id, title, reference, public in documents:
        responses, classes, published = counts.get(document_id, (0, 0, 0))
        figures.append(
            DocumentFigures(
                id=document_id,
                title=title,
                reference=reference or "",
                published=bool(public),
                projects=projects.get(document_id, 0),
                classes=classes,
                responses=responses,
                published_responses=int(published or 0),
            )
        )
    return figures


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
