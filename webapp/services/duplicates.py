"""Find where else in the archive an original photograph is already used.

Originals are content-addressed by SHA-256, so the same file handed in twice (two pupils of one
family, a story submitted again) is stored once but belongs to several stories. Archivists want
to know ("this photo is already in story X"). This module only reads, and must never reveal the
title of a story to someone who may not see that story: each other story is checked with
:func:`webapp.services.access.can_view` for the person asking.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from webapp.extensions import db
from webapp.models import MediaAsset, Story, User
from webapp.services import access


@dataclass(frozen=True)
class Duplicate:
    """Another story's media with the same original bytes."""

    story_id: int
    title: str
    media_id: int

    def as_json(self) -> dict[str, object]:
        return {"story_id": self.story_id, "title": self.title, "media_id": self.media_id}


def may_see_duplicates(story: Story, viewer: User | None) -> bool:
    """Staff and the story's submitter are told; the public and status-link holders are not."""
    return viewer is not None and (viewer.is_staff or access.is_owner(viewer, story))


def duplicates_for_media(
    media: Iterable[MediaAsset], viewer: User | None
) -> dict[int, list[Duplicate]]:
    """Media id → the same original in *other* stories that ``viewer`` may see, oldest first.

    One query for all the media of a page, whatever their number.
    """
    media = list(media)
    by_sha: dict[str, list[MediaAsset]] = {}
    for item in media:
        by_sha.setdefault(item.sha256, []).append(item)
    found: dict[int, list[Duplicate]] = {item.id: [] for item in media}
    if not by_sha:
        return found
    rows = db.session.execute(
        db.select(MediaAsset.id, MediaAsset.sha256, MediaAsset.story_id, Story)
        .join(Story, Story.id == MediaAsset.story_id)
        .where(MediaAsset.sha256.in_(list(by_sha)))
        .order_by(MediaAsset.story_id, MediaAsset.id)
    ).all()
    visible: dict[int, bool] = {}
    for other_id, sha, story_id, story in rows:
        if story_id not in visible:
            visible[story_id] = viewer is not None and (
                viewer.is_staff or access.can_view(story, viewer)
            )
        for item in by_sha[sha]:
            if story_id != item.story_id and visible[story_id]:
                found[item.id].append(Duplicate(story_id, story.title, other_id))
    return found


def duplicates_for_story(story: Story, viewer: User | None) -> dict[int, list[Duplicate]]:
    """What :func:`duplicates_for_media` finds for ``story``'s images, or nothing when
    ``viewer`` is not someone who should be told (see :func:`may_see_duplicates`)."""
    if not may_see_duplicates(story, viewer):
        return {}
    return duplicates_for_media(story.media, viewer)
