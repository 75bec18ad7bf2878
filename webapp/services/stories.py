"""Find stories and their images by id, and a contributor's own stories, for the views.

Views never query the database themselves (``tests/test_view_database_access.py``); they ask
here, then ask ``webapp.services.access`` whether the person may see what was found. So nothing
in this module decides visibility: a function here may return a story nobody but staff may see,
and every caller that shows it passes it through ``access.require_view`` first. This module
must never change data.
"""

from __future__ import annotations

from webapp.extensions import db
from webapp.models import MediaAsset, Story, User


def find_story(story_id: int) -> Story | None:
    """The story with this id, whatever its status, or ``None``."""
    return db.session.get(Story, story_id)


def find_media(media_id: int) -> MediaAsset | None:
    """The image with this id, whatever its story's status, or ``None``."""
    return db.session.get(MediaAsset, media_id)


def submitted_by(user: User) -> list[Story]:
    """Every story ``user`` handed in or saved as a draft, newest first ("my space")."""
    return db.session.scalars(
        db.select(Story).where(Story.submitted_by_id == user.id).order_by(Story.created_at.desc())
    ).all()
