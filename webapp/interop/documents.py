"""The public read API's documents: published stories, collections, organisations and places as
JSON, in the shapes ``schemas/public-*.schema.json`` describe.

Only ever given public things (the services select them); this module shapes and links, and
never decides what is public.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import url_for

from webapp.licences import deed_url
from webapp.models import Collection, MediaState, Organisation, Place, Story
from webapp.services.catalog import Counted
from webapp.slugs import slugify

#: The derivative a listing shows as a story's picture.
THUMBNAIL = "medium"


def rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _image(story: Story) -> str | None:
    for media in story.media:
        if media.state == MediaState.READY.value and THUMBNAIL in (media.derivatives or {}):
            return url_for("public.derivative", media_id=media.id, name=THUMBNAIL, _external=True)
    return None


def story_summary(story: Story, changed_at: datetime | None) -> dict[str, Any]:
    """One published story in a public listing."""
    organisation = story.organisation
    return {
        "id": story.id,
        "title": story.title,
        "kind": story.kind,
        "language": story.language,
        "places": list(story.places or []),
        "period": story.period,
        "themes": list(story.themes or []),
        "licence": story.licence,
        "licence_url": deed_url(story.licence),
        "organisation": (
            {"id": organisation.id, "name": organisation.name} if organisation else None
        ),
        "published_at": rfc3339(story.published_at),
        "updated_at": rfc3339(changed_at),
        "url": url_for("public.story", story_id=story.id, _external=True),
        "api_url": url_for("api.get_story", story_id=story.id, _external=True),
        "image": _image(story),
    }


def collection_summary(counted: Counted) -> dict[str, Any]:
    collection = counted.record
    assert isinstance(collection, Collection)
    return {
        "slug": collection.slug,
        "title": collection.title,
        "featured": collection.featured,
        "story_count": counted.stories,
        "updated_at": rfc3339(counted.changed_at),
        "url": url_for("public.collection", slug=collection.slug, _external=True),
        "api_url": url_for("public_api.collection", slug=collection.slug, _external=True),
        "feed_url": url_for("syndication.collection_feed", slug=collection.slug, _external=True),
    }


def collection_document(
    counted: Counted, stories: list[Story], changes: dict[int, datetime]
) -> dict[str, Any]:
    body = collection_summary(counted)
    collection = counted.record
    assert isinstance(collection, Collection)
    body["introduction"] = collection.introduction
    body["stories"] = [story_summary(s, changes.get(s.id)) for s in stories]
    return body


def organisation_summary(counted: Counted) -> dict[str, Any]:
    organisation = counted.record
    assert isinstance(organisation, Organisation)
    return {
        "id": organisation.id,
        "name": organisation.name,
        "kind": organisation.kind,
        "story_count": counted.stories,
        "updated_at": rfc3339(counted.changed_at),
        "url": url_for(
            "public.organisation",
            organisation_id=organisation.id,
            slug=slugify(organisation.name) or "organisation",
            _external=True,
        ),
        "stories_url": url_for("api.list_stories", organisation=organisation.id, _external=True),
    }


def place_summary(counted: Counted) -> dict[str, Any]:
    place = counted.record
    assert isinstance(place, Place)
    return {
        "slug": place.slug,
        "name": place.name,
        "kind": place.kind,
        "insee_code": place.insee_code,
        "department": place.department_name,
        "latitude": place.latitude,
        "longitude": place.longitude,
        "story_count": counted.stories,
        "url": url_for("public.place", slug=place.slug, _external=True),
        "stories_url": url_for("api.list_stories", place=place.name, _external=True),
    }
