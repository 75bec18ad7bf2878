"""Teaching dossiers: an archivist groups archive documents on a theme, for teachers and classes.

Only archivists create and change dossiers. The public (and every teacher) sees a dossier only
once it is published, and in it only the documents the public may see (``Story.is_public``): a
withdrawn document silently leaves the dossier's pages, and comes back if it is published again.
Texts are Markdown made safe by the collections' sanitiser. This module adds to the caller's unit
of work and never commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask_babel import gettext
from markupsafe import Markup

from webapp import ordering
from webapp.errors import BadRequest, NotFound
from webapp.extensions import db
from webapp.models import Dossier, DossierDocument, Story, StoryStatus, User
from webapp.services import access, audit
from webapp.services.collections import render_introduction
from webapp.slugs import slugify
from webapp.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

MAX_TEXT = 20_000
MAX_QUESTIONS = 30


@dataclass
class DossierFields:
    """What an archivist types on the dossier's form."""

    title: str
    slug: str = ""
    introduction: str = ""
    teacher_context: str = ""
    guidance: str = ""
    level: str = ""
    questions: str = ""
    published: bool = False


def _check(fields: DossierFields, dossier_id: int | None) -> DossierFields:
    title = " ".join((fields.title or "").split())
    if not title:
        raise BadRequest(gettext("a dossier needs a title (its theme)"), field="title")
    if len(title) > 300:
        raise BadRequest(gettext("the title is longer than 300 characters"), field="title")
    slug = slugify(fields.slug or title, max_length=100)
    if not slug:
        raise BadRequest(gettext("the short name (slug) needs letters or digits"), field="slug")
    clash = db.session.scalar(db.select(Dossier.id).where(Dossier.slug == slug))
    if clash is not None and clash != dossier_id:
        raise BadRequest(
            gettext("another dossier already uses the short name “%(slug)s”", slug=slug),
            field="slug",
        )
    level = " ".join((fields.level or "").split())
    if len(level) > 120:
        raise BadRequest(gettext("the age range is longer than 120 characters"), field="level")
    for name in ("introduction", "teacher_context", "guidance", "questions"):
        if len(getattr(fields, name) or "") > MAX_TEXT:
            raise BadRequest(
                gettext("this text is longer than %(MAX_TEXT)s characters", MAX_TEXT=MAX_TEXT),
                field=name,
            )
    questions = [" ".join(q.split()) for q in (fields.questions or "").splitlines()]
    questions = [q for q in questions if q]
    if len(questions) > MAX_QUESTIONS:
        raise BadRequest(
            gettext("at most %(MAX_QUESTIONS)s analysis questions", MAX_QUESTIONS=MAX_QUESTIONS),
            field="questions",
        )
    return DossierFields(
        title=title,
        slug=slug,
        introduction=fields.introduction or "",
        teacher_context=fields.teacher_context or "",
        guidance=fields.guidance or "",
        level=level,
        questions="\n".join(questions),
        published=bool(fields.published),
    )


def save_dossier(
    uow: UnitOfWork, fields: DossierFields, actor: User | None, dossier_id: int | None = None
) -> Dossier:
    """Create (``dossier_id=None``) or change a dossier; archivists only."""
    access.require_archivist(actor)
    checked = _check(fields, dossier_id)
    if dossier_id is None:
        dossier = Dossier()
        uow.add(dossier)
    else:
        dossier = get_dossier(dossier_id)
    for name in (
        "title", "slug", "introduction", "teacher_context", "guidance", "level", "questions",
        "published",
    ):  # fmt: skip
        setattr(dossier, name, getattr(checked, name))
    uow.flush()
    audit.record("dossier.saved", "dossier", dossier.id, actor=actor,
                 details={"published": dossier.published})  # fmt: skip
    log.info("dossier %s saved by user %s", dossier.id, actor.id)
    return dossier


def get_dossier(dossier_id: int) -> Dossier:
    dossier = db.session.get(Dossier, dossier_id)
    if dossier is None:
        raise NotFound(gettext("no such dossier"))
    return dossier


def all_dossiers() -> list[Dossier]:
    """Every dossier, drafts included (the archivists' screen)."""
    return db.session.scalars(db.select(Dossier).order_by(Dossier.title)).all()


def add_document(uow: UnitOfWork, dossier_id: int, story_id: int, actor: User | None) -> None:
    """Append a published archive document to the dossier (adding it twice changes nothing)."""
    access.require_archivist(actor)
    dossier = get_dossier(dossier_id)
    story = db.session.get(Story, story_id)
    if story is None:
        raise BadRequest(
            gettext("there is no document number %(story_id)s", story_id=story_id), field="story_id"
        )
    if not story.is_document:
        raise BadRequest(
            gettext("number %(story_id)s is a story, not an archive document", story_id=story_id),
            field="story_id",
        )
    if story.status != StoryStatus.PUBLISHED.value:
        raise BadRequest(gettext("only published documents can go in a dossier"), field="story_id")
    if any(item.story_id == story_id for item in dossier.items):
        return
    dossier.items.append(DossierDocument(story_id=story_id, position=len(dossier.items)))
    audit.record("dossier.document_added", "dossier", dossier.id, actor=actor,
                 details={"story_id": story_id})  # fmt: skip


def remove_document(uow: UnitOfWork, dossier_id: int, item_id: int, actor: User | None) -> None:
    access.require_archivist(actor)
    dossier = get_dossier(dossier_id)
    item = ordering.remove(dossier.items, item_id)
    if item is None:
        raise NotFound(gettext("no such document in this dossier"))
    audit.record("dossier.document_removed", "dossier", dossier.id, actor=actor,
                 details={"story_id": item.story_id})  # fmt: skip


def move_document(
    uow: UnitOfWork, dossier_id: int, item_id: int, offset: int, actor: User | None
) -> None:
    """Move one document up (-1) or down (+1): reordering without JavaScript."""
    access.require_archivist(actor)
    dossier = get_dossier(dossier_id)
    if not ordering.move(dossier.items, item_id, offset):
        raise NotFound(gettext("no such document in this dossier"))
    audit.record("dossier.reordered", "dossier", dossier.id, actor=actor,
                 details={"item_id": item_id, "offset": offset})  # fmt: skip


# --- what teachers and the public see ----------------------------------------------------------


def public_dossiers() -> list[Dossier]:
    return db.session.scalars(
        db.select(Dossier).where(Dossier.published.is_(True)).order_by(Dossier.title)
    ).all()


def get_public_dossier(slug: str) -> Dossier:
    dossier = db.session.scalar(
        db.select(Dossier).where(Dossier.slug == slug, Dossier.published.is_(True))
    )
    if dossier is None:
        raise NotFound(gettext("no such dossier"))
    return dossier


def get_usable_dossier(dossier_id: int) -> Dossier:
    """A published dossier a teacher may start a project from (drafts look unknown)."""
    dossier = db.session.get(Dossier, dossier_id)
    if dossier is None or not dossier.published:
        raise NotFound(gettext("no such dossier"))
    return dossier


def public_documents(dossier: Dossier) -> list[Story]:
    """The dossier's documents the public may see, in the archivist's order."""
    return db.session.scalars(
        db.select(Story)
        .join(DossierDocument, DossierDocument.story_id == Story.id)
        .where(DossierDocument.dossier_id == dossier.id, Story.is_public)
        .order_by(DossierDocument.position, DossierDocument.id)
    ).all()


def questions_of(dossier: Dossier) -> list[str]:
    return [q for q in (dossier.questions or "").splitlines() if q.strip()]


def rendered(text: str) -> Markup:
    """A dossier text as safe HTML (Markdown through the collections' sanitiser)."""
    return render_introduction(text)
