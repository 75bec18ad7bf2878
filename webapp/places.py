"""Places as records: the gazetteer of communes shipped with the app, plus places archivists add.

A story stores the place names its contributor typed (``Story.places``); this module decides
which record each name means, by a normalised key, so that "Vitry sur Seine", "vitry-sur-seine"
and "Vitry-sur-Seine" are one place with one page. Each story's keys are kept in the
``story_places`` table by a flush hook, so a place page or the count of every place is one
indexed query (never a read of every published story); keys, not record ids, so a place record
added later meets the stories that already name it. Public lists go through the one visibility
rule (``Story.is_public``). This module must never change a story's own fields or show a story
that is not published.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Select, event, inspect
from sqlalchemy.orm import Session

from webapp.extensions import db
from webapp.models import Place, Story, StoryPlace
from webapp.services import visibility
from webapp.textfold import fold

log = logging.getLogger(__name__)

GAZETTEER_FILE = Path(__file__).resolve().parent / "data" / "communes.csv"


_SEPARATORS = re.compile(r"[\s'’`´\-_.,/]+")
_SAINT = re.compile(r"\b(st|ste)\b")


def place_key(name: str) -> str:
    """Case, accents, hyphens, apostrophes and "St"/"Ste" abbreviations do not matter."""
    folded = _SEPARATORS.sub(" ", fold(name)).strip()
    return _SAINT.sub(lambda m: "saint" if m.group(1) == "st" else "sainte", folded)


def place_slug(name: str) -> str:
    """A readable URL part: ``L'Haÿ-les-Roses`` → ``l-hay-les-roses``."""
    slug = re.sub(r"[^\w]+", "-", fold(name)).strip("-")
    return slug[:190] or "place"


@dataclass(frozen=True)
class GazetteerRow:
    insee: str
    name: str
    department: str
    latitude: float
    longitude: float


def gazetteer_rows(path: Path = GAZETTEER_FILE) -> Iterator[GazetteerRow]:
    """The shipped communes; comment lines start with ``#``."""
    with path.open(encoding="utf-8", newline="") as handle:
        lines = (line for line in handle if not line.startswith("#"))
        for row in csv.DictReader(lines):
            yield GazetteerRow(
                insee=row["insee"],
                name=row["name"],
                department=row["department"],
                latitude=float(row["latitude"]),
                longitude=float(row["longitude"]),
            )


def find_place(name: str) -> Place | None:
    key = place_key(name)
    return db.session.scalar(db.select(Place).where(Place.key == key)) if key else None


def all_places() -> list[Place]:
    """Every place record, by name (the public list of places and its map)."""
    return db.session.scalars(db.select(Place).order_by(Place.name)).all()


def find_by_slug(slug: str) -> Place | None:
    return db.session.scalar(db.select(Place).where(Place.slug == slug))


def origin_places() -> list[Place]:
    """Places of origin archivists recorded, by name (the curation screen lists them)."""
    return db.session.scalars(
        db.select(Place).where(Place.kind == "origin").order_by(Place.name)
    ).all()


def add_origin_place(
    name: str, latitude: float | None = None, longitude: float | None = None
) -> Place:
    """An archivist records a place of origin (Oran, Porto, Bamako…); the caller commits.

    Returns the existing record when the name already matches one, so adding is idempotent.
    """
    name = " ".join(name.split())
    if not name:
        raise ValueError("a place needs a name")
    existing = find_place(name)
    if existing is not None:
        return existing
    base = slug = place_slug(name)
    suffix = 2
    while db.session.scalar(db.select(Place.id).where(Place.slug == slug)) is not None:
        slug, suffix = f"{base}-{suffix}", suffix + 1
    place = Place(
        name=name,
        key=place_key(name),
        slug=slug,
        latitude=latitude,
        longitude=longitude,
        kind="origin",
    )
    db.session.add(place)
    return place


def story_place_keys(names: list[str] | None) -> set[str]:
    """The place keys of the names a story gives (empty names dropped)."""
    return {place_key(n) for n in names or [] if isinstance(n, str)} - {""}


@event.listens_for(Session, "before_flush")
def _keep_story_places(session: Session, _context: object, _instances: object) -> None:
    """Keep ``story_places`` in step with ``Story.places`` at every flush, whoever edits.

    Why a flush hook and not a call in each service: stories get their places on submission,
    by an archivist's edit, by the demo loader and by migrations of data; a hook cannot be
    forgotten by the next one. It only adds or removes link rows of the story being flushed.
    """
    for obj in [*session.new, *session.dirty]:
        if not isinstance(obj, Story):
            continue
        if obj not in session.new and not inspect(obj).attrs.places.history.has_changes():
            continue
        wanted = story_place_keys(obj.places)
        current = {link.place_key: link for link in obj.place_links}
        for key, link in current.items():
            if key not in wanted:
                obj.place_links.remove(link)
        for key in sorted(wanted - current.keys()):
            obj.place_links.append(StoryPlace(place_key=key))


def public_story_counts() -> dict[str, int]:
    """place key → how many public stories name it (one grouped query on ``story_places``)."""
    rows = db.session.execute(
        db.select(StoryPlace.place_key, db.func.count(StoryPlace.story_id))
        .join(Story, Story.id == StoryPlace.story_id)
        .where(Story.is_public)
        .group_by(StoryPlace.place_key)
    ).all()
    return {key: count for key, count in rows}


def public_stories_at(place: Place) -> Select[tuple[Story]]:
    """The public stories naming ``place``, newest publication first (paginate it)."""
    return visibility.public_stories().where(
        Story.id.in_(db.select(StoryPlace.story_id).where(StoryPlace.place_key == place.key))
    )


def places_for_story(story: Story) -> list[tuple[str, Place | None]]:
    """Each name the story gives, with the record it means (``None`` when not in the gazetteer)."""
    names = [n for n in story.places or [] if isinstance(n, str) and n.strip()]
    keys = {place_key(n) for n in names}
    known = {
        p.key: p for p in db.session.scalars(db.select(Place).where(Place.key.in_(keys))).all()
    }
    return [(n, known.get(place_key(n))) for n in names]


def canonical_names(names: list[str]) -> list[str]:
    """The gazetteer's spelling of each name, unknown names kept as written, duplicates dropped.

    Meant for the search document (``webapp.services.indexing.document_for``), so that the place
    facet counts "Vitry sur Seine" and "Vitry-sur-Seine" as one value.
    """
    cleaned = [" ".join(n.split()) for n in names if isinstance(n, str) and n.strip()]
    keys = {place_key(n) for n in cleaned}
    rows = db.session.execute(db.select(Place.key, Place.name).where(Place.key.in_(keys))).all()
    known = {key: name for key, name in rows}
    out: list[str] = []
    for name in cleaned:
        canonical = known.get(place_key(name), name)
        if canonical not in out:
            out.append(canonical)
    return out
