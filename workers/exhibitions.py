"""Exhibition jobs: idempotent functions of a collection's or a story's id.

``build_exhibition(collection_id)`` makes the A3 panels and the A4 booklet of a published
collection (``webapp.services.exhibitions`` says what is printed, ``webapp.printing`` lays it
out) and stores them under keys named by the fingerprint of the content: a job delivered twice
writes the same bytes to the same keys, or finds them there and stops. Its progress is written
to the collection's ``Exhibition`` row as it goes (the curation screen reads it). PDFs of older
content are deleted once the new ones are recorded.

``story_changed(story_id)`` follows the story events that change what the public sees: PDFs
that show a story which is no longer public are forgotten and deleted at once, and every
collection that holds or showed the story is asked for a new build (through the outbox).
"""

from __future__ import annotations

import logging

from webapp import reasons
from webapp.interop.bagit_export import public_link_context
from webapp.media import keys
from webapp.printing import exhibition as layout
from webapp.services import backends
from webapp.services import exhibitions as service
from webapp.unit_of_work import unit_of_work
from workers.context import app_context

log = logging.getLogger(__name__)


def build_exhibition(collection_id: int) -> str | None:
    """Build and store the exhibition of a collection; return the fingerprint stored, if any."""
    with app_context():
        with unit_of_work() as uow:
            plan = service.start_build(uow, collection_id)
        store = backends.object_store()
        if plan is None:
            _remove_older(store, collection_id, keep=service.current_built(collection_id))
            return None
        steps = {"done": 0}

        def advance(count: int = 1) -> None:
            steps["done"] += count
            with unit_of_work() as uow:
                service.record_progress(uow, collection_id, steps["done"])

        try:
            with public_link_context():
                content = service.content(plan, progress=lambda n: advance())
            sizes = {}
            for fmt in service.FORMATS:
                data = layout.render(content, fmt, progress=lambda n: advance())
                store.put(
                    keys.exhibition_key(collection_id, plan.fingerprint, fmt),
                    data,
                    content_type="application/pdf",
                )
                sizes[fmt] = len(data)
                del data
        except Exception as exc:
            with unit_of_work() as uow:
                detail = f"{type(exc).__name__}: {exc}"[:500]
                service.fail_build(uow, collection_id, reasons.encode("failed", detail=detail))
            raise
        with unit_of_work() as uow:
            recorded = service.finish_build(uow, plan, sizes)
        if not recorded:
            log.info("exhibition %s: content changed during the build; not kept", collection_id)
            for fmt in service.FORMATS:
                store.delete(keys.exhibition_key(collection_id, plan.fingerprint, fmt))
            return None
        _remove_older(store, collection_id, keep=plan.fingerprint)
        log.info("exhibition %s built (%s): %s", collection_id, plan.fingerprint, sizes)
        return plan.fingerprint


def _remove_older(store, collection_id: int, keep: str | None) -> None:
    """Delete the PDFs of every other content of this collection (older builds)."""
    current = {keys.exhibition_key(collection_id, keep, fmt) for fmt in service.FORMATS} if keep \
        else set()  # fmt: skip
    for info in list(store.list(keys.exhibition_prefix(collection_id))):
        if info.key not in current:
            store.delete(info.key)


def story_changed(story_id: int) -> list[int]:
    """A story's public face changed: drop PDFs that show it if it left publication, and ask
    every collection that holds or showed it for a new build. Returns those collections."""
    with app_context():
        with unit_of_work() as uow:
            stale = service.drop_pdfs_showing(uow, story_id)
            collections = service.collections_showing(story_id)
            for collection_id in collections:
                service.request_build(uow, collection_id)
        store = backends.object_store()
        for key in stale:
            store.delete(key)
        return collections


def exhibition_gave_up(collection_id: int, reason: str) -> None:
    """The worker gave the build up (time or memory limit, retries exhausted): say so."""
    with app_context(), unit_of_work() as uow:
        service.fail_build(uow, collection_id, reason)
