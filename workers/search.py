"""Search jobs: keep the Whoosh index in step with the database, one story at a time.

``index_story(story_id)`` is an upsert of the story's current state, or — when the story is gone,
which only erasure does — a purge that rewrites every index segment that held it, so no word of
an erased story stays in any index file. Running it twice, or out of order, converges on the
database's truth. Before any update the job checks that the served index opens; when it does not
(damaged files, another format or schema version) the job rebuilds it from the database first,
and ``rebuild_if_unreadable`` (queued by the worker's periodic check) does the same when no
update comes. All index writes go through the search queue, consumed by a single worker, and the
index's own lock with a bounded wait guards against any other writer. Jobs never commit to the
database: they only read it.
"""

from __future__ import annotations

import logging

from webapp import page_cache, reasons
from webapp.extensions import db
from webapp.models import Story
from webapp.operations import long_jobs
from webapp.search import SearchUnavailable
from webapp.search.contract import IndexBusy
from webapp.services import backends, indexing
from workers.context import app_context

log = logging.getLogger(__name__)


def index_story(story_id: int) -> str:
    with app_context():
        index = backends.search_index()
        if _rebuild_if_unreadable(index):
            return "rebuilt"
        was_public = _shown_publicly(index, story_id)
        story = db.session.get(Story, story_id)
        if story is None:
            index.purge(story_id)
            if was_public:
                page_cache.invalidate()
            return "removed"  # and purged from every segment that held it
        index.upsert(indexing.document_for(story))
        if was_public or story.is_public:
            page_cache.invalidate()  # search results and facet counts on the pages come from here
        log.info("story %s indexed (status %s)", story_id, story.status)
        compact_if_fragmented(index)
        return "indexed"


def _shown_publicly(index, story_id: int) -> bool:
    """Whether public searches (results, facet counts on the pages) reach the story before this
    update. Only then, or when it is public after it, are the kept pages retired: re-indexing a
    pupil's draft changes nothing the public sees. In doubt (the index does not say), yes."""
    try:
        return story_id in index.visible_ids(public=True)
    except SearchUnavailable:  # retiring the pages is the safe answer
        log.exception("could not tell whether story %s was public in the index", story_id)
        return True


#: Each update adds a small segment (merging on the update path cost seconds per commit); past
#: this many, the search worker merges them right after the job — never in a web request.
MAX_SEGMENTS = 30


def compact_if_fragmented(index) -> int:
    if index.segment_count() <= MAX_SEGMENTS:
        return 0
    merged = index.compact()
    log.info("search index compacted: %d small segments merged", merged)
    return merged


def _rebuild_if_unreadable(index) -> bool:
    reason = index.unreadable_reason()
    if reason is None:
        return False
    log.warning("search index unusable (%s): rebuilding from the database", reason)
    count = _rebuild(index)
    log.info("search index rebuilt with %d stories", count)
    return True


def _rebuild(index) -> int:
    """Rebuild ``index`` from every story, recording its progress for the jobs page."""
    total = db.session.scalar(db.select(db.func.count(Story.id))) or 0
    try:
        count = index.rebuild(long_jobs.counting(indexing.all_documents(), total))
    except IndexBusy:
        raise  # another rebuild runs and owns the figures the jobs page shows
    except BaseException as exc:
        long_jobs.reindex_ended(None, _why(exc))
        raise
    long_jobs.reindex_ended(count)
    return count


def _why(exc: BaseException) -> str:
    """The stored reason (``webapp.reasons``) of a rebuild that raised ``exc``, so the jobs
    page says why it failed rather than only that it did."""
    if type(exc).__name__ == "JobTimeoutException":  # RQ's time limit, raised in the job
        return reasons.encode("job_timeout")
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return reasons.encode("rebuild_error", detail=detail[:300])


def rebuild_if_unreadable() -> str:
    """Rebuild the index when it does not open or has another version; else do nothing."""
    with app_context():
        return "rebuilt" if _rebuild_if_unreadable(backends.search_index()) else "healthy"


def rebuild_index() -> int:
    """Rebuild the whole index aside from the database and swap it in (``passages reindex``)."""
    with app_context():
        count = _rebuild(backends.search_index())
        log.info("search index rebuilt with %d stories", count)
        return count
