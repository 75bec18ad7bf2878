"""Teaching with the archive: dossiers of documents, and class projects built on them.

A dossier is an archivist's selection of archive documents on one theme, with what a teacher
needs to use it (introduction, context, age-appropriate guidance, analysis questions). A class
project is one teacher's use of a dossier with one class, until a deadline; each student's part
of it is a ``ProjectWork`` row (the document they work on, their group, their analysis notes and
the story they wrote in response). Progress is never stored: it is read from the response's
status in the review workflow (``webapp.services.projects.progress_of``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
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
from webapp.models.base import utcnow

if TYPE_CHECKING:  # relationship targets, resolved by name at run time
    from webapp.models.accounts import SchoolClass, User
    from webapp.models.collections import Collection
    from webapp.models.stories import Story


class Dossier(db.Model):
    """A teaching dossier: archive documents on one theme, in the archivist's order."""

    __tablename__ = "dossiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    slug: Mapped[str] = mapped_column(String(120), nullable=False, unique=True)
    #: For everyone (Markdown, sanitised when shown).
    introduction: Mapped[str] = mapped_column(Text, nullable=False, default="")
    #: Historical context for teachers (Markdown).
    teacher_context: Mapped[str] = mapped_column(Text, nullable=False, default="")
    #: Which ages it suits and what to take care of with them (Markdown).
    guidance: Mapped[str] = mapped_column(Text, nullable=False, default="")
    #: The age range or school level in a few words ("cycle 4, 12–15 ans").
    level: Mapped[str] = mapped_column(String(120), nullable=False, default="")
    #: Analysis questions for the class, one per line.
    questions: Mapped[str] = mapped_column(Text, nullable=False, default="")
    published: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    items: Mapped[list[DossierDocument]] = relationship(
        back_populates="dossier",
        order_by="DossierDocument.position",
        cascade="all, delete-orphan",
    )


class DossierDocument(db.Model):
    __tablename__ = "dossier_documents"
    __table_args__ = (UniqueConstraint("dossier_id", "story_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), nullable=False, index=True)
    #: The document (a story of kind "document").
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id"), nullable=False, index=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    dossier: Mapped[Dossier] = relationship(back_populates="items")
    story: Mapped[Story] = relationship()


class ClassProject(db.Model):
    """A teacher's project with one class, from one dossier, until a deadline."""

    __tablename__ = "class_projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    class_id: Mapped[int] = mapped_column(
        ForeignKey("school_classes.id"), nullable=False, index=True
    )
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), nullable=False, index=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    deadline: Mapped[date] = mapped_column(Date, nullable=False)
    instructions: Mapped[str] = mapped_column(Text, nullable=False, default="")
    #: Students without an assigned document choose one of the dossier's documents themselves.
    free_choice: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    #: The collection an archivist made of the project's published responses, if any.
    collection_id: Mapped[int | None] = mapped_column(
        ForeignKey("collections.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    school_class: Mapped[SchoolClass] = relationship()
    dossier: Mapped[Dossier] = relationship()
    teacher: Mapped[User] = relationship(foreign_keys=[teacher_id])
    collection: Mapped[Collection | None] = relationship()
    works: Mapped[list[ProjectWork]] = relationship(
        back_populates="project", cascade="all, delete-orphan"
    )


class ProjectWork(db.Model):
    """One student's part of a project: their document, group, analysis notes and response."""

    __tablename__ = "project_works"
    __table_args__ = (UniqueConstraint("project_id", "student_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("class_projects.id"), nullable=False, index=True
    )
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    #: Students sharing a group name share a document and write one story together.
    group_name: Mapped[str | None] = mapped_column(String(60))
    #: The document to work on (``None``: not assigned yet, or to be chosen by the student).
    document_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id"), index=True)
    #: The story this student wrote in response (its status is the student's progress).
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id"), unique=True)
    #: The guided analysis, question key → the student's answer (never published).
    analysis: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    project: Mapped[ClassProject] = relationship(back_populates="works")
    student: Mapped[User] = relationship()
    document: Mapped[Story | None] = relationship(foreign_keys=[document_id])
    story: Mapped[Story | None] = relationship(foreign_keys=[story_id])
