"""Places as records: the communes of the shipped gazetteer and the places archivists add.

Which name means which place is decided in ``webapp.places``; this module only holds the rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import utcnow

DEPARTMENTS = {"93": "Seine-Saint-Denis", "94": "Val-de-Marne"}


class Place(db.Model):
    """One place: a commune of the gazetteer (with its INSEE code) or a place of origin."""

    __tablename__ = "places"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    #: ``place_key(name)``: how spellings of the same name meet.
    key: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    slug: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    insee_code: Mapped[str | None] = mapped_column(String(5), unique=True)
    department: Mapped[str | None] = mapped_column(String(3), index=True)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    #: "commune" (shipped gazetteer) or "origin" (added by an archivist).
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="commune")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def department_name(self) -> str | None:
        return DEPARTMENTS.get(self.department or "")


class StoryPlace(db.Model):
    """One place a story names, by ``place_key``: place pages and counts are one indexed query.

    Rows follow ``Story.places`` on every flush (``webapp.places`` registers the hook), whoever
    changes a story, and go with the story when it is erased. Keys, not place ids: a name
    typed before the archivists add its place record already meets that record's page.
    """

    __tablename__ = "story_places"

    story_id: Mapped[int] = mapped_column(
        ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True
    )
    place_key: Mapped[str] = mapped_column(String(200), primary_key=True, index=True)
