"""Search jobs: keep the Whoosh index in step with the database, one story at a time.

``index_story(story_id)`` is an upsert of the story's current state (or a removal when it is
gone), so running it twice, or out of order, converges on the database's truth. All index writes
go through the search queue, consumed by a single worker, and the index's own lock with a bounded
wait guards against any other writer.
"""

from __future__ import annotations

import logging

from webapp.extensions import db
from webapp.models import Story
from webapp.services import backends, indexing
from workers.context import app_context

log = logging.getLogger(__name__)


def index_story(story_id: int) -> str:
    with app_context():
        index = backends.search_index()
        story = db.session.get(Story, story_id)
        if story is None:
            index.remove(story_id)
            return "removed"
        index.upsert(indexing.document_for(story))
        log.info("story %s indexed (status %s)", story_id, story.status)
        compact_if_fragmented(index)
        return "indexed"


#: Each update adds a small segment (merging on the update path cost seconds per commit); past
#: this many, the search worker merges them right after the job — never in a web request.
MAX_SEGMENTS = 30


def compact_if_fragmented(index) -> int:
    if index.segment_count() <= MAX_SEGMENTS:
        return 0
    merged = index.compact()
    log.info("search index compacted: %d small segments merged", merged)
    return merged


def rebuild_index() -> int:
    """Rebuild the whole index aside from the database and swap it in (``passages reindex``)."""
    with app_context():
        count = backends.search_index().rebuild(indexing.all_documents())
        log.info("search index rebuilt with %d stories", count)
        return count
