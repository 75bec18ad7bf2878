"""Collections an archivist curates, their ordered items and their daily read counts."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import (
    utcnow,
)

if TYPE_CHECKING:  # relationship targets, resolved by name at run time
    from webapp.models.stories import Story


class Collection(db.Model):
    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    slug: Mapped[str] = mapped_column(String(120), nullable=False, unique=True)
    introduction: Mapped[str] = mapped_column(Text, nullable=False, default="")
    published: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    featured: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: The image the archivist chose as cover; only used while its story is published and in
    #: the collection (``services.collections.cover_image`` falls back to the automatic cover).
    cover_media_id: Mapped[int | None] = mapped_column(
        ForeignKey("media_assets.id", ondelete="SET NULL")
    )

    items: Mapped[list[CollectionItem]] = relationship(
        back_populates="collection",
        order_by="CollectionItem.position",
        cascade="all, delete-orphan",
    )


class CollectionItem(db.Model):
    __tablename__ = "collection_items"
    __table_args__ = (UniqueConstraint("collection_id", "story_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id"), nullable=False, index=True
    )
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id"), nullable=False, index=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    collection: Mapped[Collection] = relationship(back_populates="items")
    story: Mapped[Story] = relationship()


class CollectionView(db.Model):
    """How many times a collection's page was read on one day (UTC): the "most viewed" figure.

    One row per collection and day, never per visitor: nothing here can identify a reader.
    """

    __tablename__ = "collection_views"

    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    views: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
