"""The leftover collector: removes objects no row refers to, once they are old enough.

A failed or killed submission can leave originals behind (written before the transaction that
would have referenced them rolled back or never happened), derive jobs can leave derivatives of
images that were erased meanwhile, and killed uploads leave partial files. None of these are
removed by the request that made them: the collector is the one cleanup, scheduled
(``PASSAGES_COLLECT_INTERVAL_HOURS``) and retried at every run until nothing is left.

An object is collected only when (1) no row refers to it, (2) it is older than the grace period
(``PASSAGES_ORPHAN_GRACE_HOURS``), and (3) both still hold after taking its claim
(:mod:`webapp.operations.claims`), which waits for any submission of the same bytes that is in
flight. Images the IIIF Image API cached (``iiif/<story id>/<media id>/<variant>/…``) are
referenced only while their story is public and their media's derivatives are still the variant
they were cut from. Keys outside these three families are never touched.
This module must never delete an original a row refers to, and never decide from a listing
alone: every deletion re-checks under the claim.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from storage import ObjectNotFound, ObjectStore
from webapp.extensions import db
from webapp.media.keys import (
    DERIVATIVES_PREFIX,
    IIIF_CACHE_PREFIX,
    ORIGINALS_PREFIX,
    iiif_cache_owner,
    iiif_cache_variant,
    media_id_of_derivative,
    original_key,
    sha256_of_original,
)
from webapp.models import MediaAsset, MediaState, Story
from webapp.operations.claims import claim, release
from webapp.services import backends
from webapp.unit_of_work import UnitOfWork, unit_of_work

log = logging.getLogger(__name__)


@dataclass
class References:
    """What the database refers to, loaded once per run so listing stays one query per kind."""

    shas: set[str] = field(default_factory=set)
    #: media id -> recorded derivative keys, or ``None`` while the media is still pending.
    derivatives: dict[int, set[str] | None] = field(default_factory=dict)
    #: media id -> (story id, derivatives variant) for the images of public stories: the IIIF
    #: images cached for anything else are leftovers.
    iiif_cacheable: dict[int, tuple[int, str]] = field(default_factory=dict)

    @classmethod
    def load(cls) -> References:
        refs = cls()
        rows = db.session.execute(
            db.select(
                MediaAsset.id,
                MediaAsset.sha256,
                MediaAsset.state,
                MediaAsset.derivatives,
                MediaAsset.story_id,
                Story.is_public,
            ).join(Story, MediaAsset.story_id == Story.id)
        )
        for media_id, sha, state, derivatives, story_id, public in rows:
            refs.shas.add(sha)
            if public:
                refs.iiif_cacheable[media_id] = (story_id, iiif_cache_variant(derivatives))
            refs.derivatives[media_id] = (
                None
                if state == MediaState.PENDING
                else {d["key"] for d in (derivatives or {}).values() if "key" in d}
            )
        return refs

    def refers_to(self, key: str) -> bool:
        """True for keys a row uses, might soon use (pending media), or this module does not
        know how to judge."""
        if (sha := sha256_of_original(key)) is not None:
            return sha in self.shas and original_key(sha) == key
        if (media_id := media_id_of_derivative(key)) is not None:
            if media_id not in self.derivatives:
                return False
            recorded = self.derivatives[media_id]
            return recorded is None or key in recorded
        if (owner := iiif_cache_owner(key)) is not None:
            story_id, media_id, variant = owner
            return self.iiif_cacheable.get(media_id) == (story_id, variant)
        return True


def is_referenced(key: str) -> bool:
    """Ask the database now, for one key (the check made under the claim)."""
    if (sha := sha256_of_original(key)) is not None:
        query = db.select(MediaAsset.id).where(MediaAsset.sha256 == sha).limit(1)
        return db.session.scalar(query) is not None
    if (media_id := media_id_of_derivative(key)) is not None:
        media = db.session.get(MediaAsset, media_id, populate_existing=True)
        if media is None:
            return False
        if media.state == MediaState.PENDING:
            return True
        return key in {d.get("key") for d in (media.derivatives or {}).values()}
    if (owner := iiif_cache_owner(key)) is not None:
        story_id, media_id, variant = owner
        derivatives = db.session.scalar(
            db.select(MediaAsset.derivatives)
            .join(Story, MediaAsset.story_id == Story.id)
            .where(MediaAsset.id == media_id, Story.id == story_id, Story.is_public)
        )
        return derivatives is not None and iiif_cache_variant(derivatives) == variant
    return True


@dataclass
class CollectionReport:
    deleted: list[str] = field(default_factory=list)
    #: Unreferenced but younger than the grace period: maybe a submission in flight.
    young: list[str] = field(default_factory=list)
    partial_uploads: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"deleted {len(self.deleted)} object(s), {len(self.young)} unreferenced but "
            f"younger than the grace period, {self.partial_uploads} partial upload(s) removed, "
            f"{len(self.errors)} error(s)"
        )


def grace_period() -> timedelta:
    return timedelta(hours=backends.settings().orphan_grace_hours)


def unreferenced_objects(
    store: ObjectStore, refs: References | None = None
) -> list[tuple[str, datetime | None]]:
    """Every object under the collected prefixes that no row refers to, with its age."""
    refs = refs or References.load()
    found = []
    for prefix in (ORIGINALS_PREFIX, DERIVATIVES_PREFIX, IIIF_CACHE_PREFIX):
        for info in store.list(prefix):
            if not refs.refers_to(info.key):
                found.append((info.key, info.last_modified))
    return found


def delete_if_unreferenced(key: str, cutoff: datetime, *, store: ObjectStore | None = None) -> bool:
    """Delete ``key`` if, under its claim, no row refers to it and it is older than ``cutoff``.

    Runs in its own unit of work (one key, one short transaction): it is called by the collector
    between keys and by a failed submission's rollback compensation, after that action's own
    transaction has ended, so it is never part of another action.
    """
    store = store or backends.object_store()
    with unit_of_work() as uow:
        deleted = _delete_under_claim(uow, key, cutoff, store)
    if deleted:
        log.info("collected unreferenced object %s", key)
    return deleted


def _delete_under_claim(uow: UnitOfWork, key: str, cutoff: datetime, store: ObjectStore) -> bool:
    claim(uow, [key], "collector")
    if is_referenced(key):
        return False
    try:
        info = store.stat(key)
    except ObjectNotFound:
        release(uow, key)
        return False
    if info.last_modified is not None and info.last_modified > cutoff:
        return False
    store.delete(key)
    release(uow, key)
    return True


def collect_leftovers(grace: timedelta | None = None) -> CollectionReport:
    """One collector run: unreferenced objects older than ``grace`` and stale partial uploads."""
    grace = grace_period() if grace is None else grace
    store = backends.object_store()
    cutoff = datetime.now(UTC) - grace
    report = CollectionReport()
    for key, modified in unreferenced_objects(store):
        if modified is not None and modified > cutoff:
            report.young.append(key)
            continue
        try:
            if delete_if_unreferenced(key, cutoff, store=store):
                report.deleted.append(key)
        except Exception as exc:  # noqa: BLE001 - one bad key must not stop the run
            log.exception("could not collect %s", key)
            report.errors.append(f"{key}: {exc}")
    report.partial_uploads = store.remove_partial_uploads(grace)
    log.info("leftover collector: %s", report.summary())
    return report
