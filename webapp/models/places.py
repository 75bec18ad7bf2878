"""Places as records: the communes of the shipped gazetteer and the places archivists add.

Which name means which place is decided in ``webapp.places``; this module only holds the rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, String
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
