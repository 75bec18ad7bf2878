"""What the public may see: one rule, "published (and not erased) is public", in one place.

The rule itself is :attr:`webapp.models.Story.is_public`, a hybrid property: the same expression
answers ``story.is_public`` in Python and ``WHERE stories.status = 'published'`` in SQL (an erased
story has no row, so "not erased" needs no test of its own). Every public list, page, feed,
count and place page selects through :func:`public_stories` (or filters with
``Story.is_public``); the search index applies the same rule to the status it stores, and
``tests/search/test_visibility_agreement.py`` checks that the database and the index agree.
This module must never change data and must never widen the rule for a particular page.
"""

from __future__ import annotations

from sqlalchemy import Select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Story


def public_stories() -> Select[tuple[Story]]:
    """Every public story, newest publication first (callers add filters and pagination)."""
    return (
        db.select(Story)
        .where(Story.is_public)
        .order_by(Story.published_at.desc(), Story.id.desc())
        # Lists show each story's first image: one query for the page, not one per story.
        .options(selectinload(Story.media))
    )


def newest_public_stories(limit: int) -> list[Story]:
    """The ``limit`` most recently published stories (the home page)."""
    return db.session.scalars(public_stories().limit(limit)).all()


def public_stories_of_organisation(organisation_id: int) -> Select[tuple[Story]]:
    """The public stories submitted through an organisation, newest first (paginate it)."""
    return public_stories().where(Story.organisation_id == organisation_id)


def public_story_ids() -> set[int]:
    """Ids of every public story (``passages check-index``; lists paginate instead)."""
    return set(db.session.scalars(db.select(Story.id).where(Story.is_public)))
