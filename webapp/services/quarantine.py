"""Quarantine of anonymous submissions: a story handed in without an account waits here, out
of the review queue, until an archivist lets it into the queue or discards it — many at once.

Anonymous submission is the path a flood would take (up to 20 × 25 MB of permanent originals a
request), so it is rate-limited (``webapp.ratelimits``) and what gets through is set aside
rather than mixed with the work of known contributors. Releasing changes nothing else about the
story; discarding erases it with everything derived from it (``webapp.services.erasure``).
This module never publishes anything.
"""

from __future__ import annotations

import logging

from webapp.extensions import db
from webapp.models import Story, User
from webapp.services import access, audit
from webapp.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

#: How many quarantined stories one page (and one action) handles at most.
PAGE = 500


def waiting() -> list[Story]:
    """Quarantined stories, oldest first."""
    return db.session.scalars(
        db.select(Story)
        .where(Story.quarantined.is_(True))
        .order_by(Story.created_at.asc(), Story.id.asc())
        .limit(PAGE)
    ).all()


def count_waiting() -> int:
    return (
        db.session.scalar(db.select(db.func.count(Story.id)).where(Story.quarantined.is_(True)))
        or 0
    )


def _selected(ids: list[int] | None) -> list[Story]:
    query = db.select(Story).where(Story.quarantined.is_(True))
    if ids:
        query = query.where(Story.id.in_(ids))
    return db.session.scalars(query.order_by(Story.id).limit(PAGE)).all()


def release(uow: UnitOfWork, actor: User | None, ids: list[int] | None = None) -> int:
    """Let the selected (or all) quarantined stories into the normal review queue."""
    access.require_archivist(actor)
    stories = _selected(ids)
    for story in stories:
        story.quarantined = False
        audit.record("story.released_from_quarantine", "story", story.id, actor=actor)
    uow.flush()
    return len(stories)


def discard_ids(actor: User | None, ids: list[int] | None = None) -> list[int]:
    """The ids a discard would erase (checked here, erased by the caller one by one)."""
    access.require_archivist(actor)
    return [story.id for story in _selected(ids)]
