"""Maintenance jobs: housekeeping that must happen even when the web request that caused it could
not finish it (object deletions after an erasure).

Jobs here are idempotent and re-check the database before destroying anything: an object is only
deleted when no row refers to it any more.
"""

from __future__ import annotations

import logging

from webapp.extensions import db
from webapp.media.keys import media_id_of_derivative, sha256_of_original
from webapp.models import MediaAsset
from webapp.services import backends
from workers.context import app_context

log = logging.getLogger(__name__)


def _still_referenced(key: str) -> bool:
    if (sha := sha256_of_original(key)) is not None:
        query = db.select(MediaAsset.id).where(MediaAsset.sha256 == sha)
    elif (media_id := media_id_of_derivative(key)) is not None:
        query = db.select(MediaAsset.id).where(MediaAsset.id == media_id)
    else:
        return True  # not a key this job knows how to judge: leave it alone
    return db.session.scalar(query.limit(1)) is not None


def delete_erased_objects(story_id: int, keys: list[str]) -> int:
    """Delete the objects of an erased story that nothing refers to any more; return how many.

    The erasure request already tried once; this job is the guarantee (RQ retries it when the
    store is unreachable). A photo submitted again since the erasure keeps its original.
    """
    with app_context():
        store = backends.object_store()
        deleted = 0
        for key in keys:
            if _still_referenced(key):
                continue
            store.delete(key)  # idempotent: a missing object is not an error
            deleted += 1
        log.info("erased story %s: %d object(s) confirmed deleted", story_id, deleted)
        return deleted
