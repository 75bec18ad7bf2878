"""What the search index knows about a story, built fresh from the database.

The index is derived data: ``document_for`` is the only place that decides what goes in, so a
full rebuild and an incremental update always agree.
"""

from __future__ import annotations

from collections.abc import Iterator

from webapp import places
from webapp.extensions import db
from webapp.models import CollectionItem, Story
from webapp.search.contract import StoryDocument
from webapp.services.transcripts import moments_of


def document_for(story: Story) -> StoryDocument:
    collections = db.session.scalars(
        db.select(CollectionItem).where(CollectionItem.story_id == story.id)
    ).all()
    return StoryDocument(
        id=story.id,
        title=story.title,
        body=story.body or "",
        language=story.language,
        # Gazetteer spelling, so "Vitry sur Seine" and "Vitry-sur-Seine" are one facet value.
        places=places.canonical_names(list(story.places or [])),
        period_start=story.period_start,
        period_end=story.period_end,
        themes=list(story.themes or []),
        organisation=story.organisation.name if story.organisation else None,
        collections=[item.collection.title for item in collections if item.collection.published],
        status=story.status,
        updated_at=story.updated_at,
        kind=story.kind,
        moments=[(m.media_id, m.start, m.text, m.language) for m in moments_of(story)],
    )


def all_documents(batch: int = 500) -> Iterator[StoryDocument]:
    """Every story, streamed in id order (for ``passages reindex``)."""
    last_id = 0
    while True:
        stories = db.session.scalars(
            db.select(Story).where(Story.id > last_id).order_by(Story.id).limit(batch)
        ).all()
        if not stories:
            return
        for story in stories:
            yield document_for(story)
        last_id = stories[-1].id
        db.session.expunge_all()
