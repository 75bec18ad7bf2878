"""``passages check``: is everything handed in still there, intact and consistent?

One run compares the database with the object store (and the search index): every original must
exist and, with ``fixity``, hash to the SHA-256 recorded at ingest; every ready image must have
its recorded derivatives; every object must be referenced by a row (or be younger than the grace
period: a submission may be in flight); every story must be in the index with its status.

``repair`` fixes what can be fixed without a human: missing derivatives are re-derived and stale
index entries re-indexed (both through the outbox, as events the workers act on), unreferenced
objects past the grace period are removed by the collector's claim-protected delete. A missing or
corrupt original cannot be repaired here; it is reported for a restore from backup.

Every run is stored (:class:`webapp.models.CheckRun`) for the admins' page. This module must
never delete an original a row refers to and never change a story: it reports, and repairs only
derived data and leftovers.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from webapp.extensions import db
from webapp.media.keys import DERIVATIVES_PREFIX, ORIGINALS_PREFIX
from webapp.models import CheckRun, MediaAsset, MediaState, Story, utcnow
from webapp.operations import collector
from webapp.services import backends, outbox
from webapp.unit_of_work import unit_of_work

log = logging.getLogger(__name__)

HASH_CHUNK = 1024 * 1024

#: Problem kinds, with what they mean for an operator.
KINDS = {
    "original_missing": "the original is not in the object store (restore it from a backup)",
    "original_corrupt": "the original's SHA-256 differs from the one recorded at ingest "
    "(restore it from a backup)",
    "original_unreadable": "the original could not be read (storage error)",
    "derivative_missing": "a derivative of a ready image is missing (re-derived by --repair)",
    "orphan_object": "no row refers to this object and it is older than the grace period "
    "(removed by --repair and by the scheduled collector)",
    "index_missing": "the story is not in the search index (re-indexed by --repair)",
    "index_stale": "the index holds another status than the database (re-indexed by --repair)",
    "index_extra": "the index holds a story the database does not have (removed by --repair)",
}


@dataclass
class Problem:
    kind: str
    subject: str
    detail: str
    repaired: bool = False

    def line(self) -> str:
        state = "repaired" if self.repaired else "NOT repaired"
        return f"{self.kind:<20} {self.subject:<40} {self.detail} [{state}]"


@dataclass
class CheckResult:
    problems: list[Problem]
    counts: dict[str, int]
    run_id: int | None = None

    @property
    def unrepaired(self) -> list[Problem]:
        return [p for p in self.problems if not p.repaired]


def _sha256_of(store, key: str) -> str:
    digest = hashlib.sha256()
    with store.open(key) as stream:
        while chunk := stream.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def run_check(*, fixity: bool = False, repair: bool = False, trigger: str = "cli") -> CheckResult:
    """Check everything once, repair what may be repaired, store the run, return the result."""
    started = utcnow()
    store = backends.object_store()
    objects = {
        info.key: info
        for prefix in (ORIGINALS_PREFIX, DERIVATIVES_PREFIX)
        for info in store.list(prefix)
    }
    refs = collector.References.load()
    problems: list[Problem] = []
    counts: dict[str, int] = defaultdict(int)
    counts["objects"] = len(objects)
    rederive: dict[int, list[int]] = defaultdict(list)
    hashed: set[str] = set()

    media_rows = db.session.execute(
        db.select(
            MediaAsset.id,
            MediaAsset.story_id,
            MediaAsset.original_key,
            MediaAsset.sha256,
            MediaAsset.state,
            MediaAsset.derivatives,
        ).order_by(MediaAsset.id)
    ).all()
    for media_id, story_id, original_key, sha256, state, derivatives in media_rows:
        counts["media"] += 1
        subject = f"media {media_id} (story {story_id})"
        if original_key not in objects:
            problems.append(Problem("original_missing", subject, original_key))
        elif fixity and original_key not in hashed:
            hashed.add(original_key)
            counts["originals_hashed"] += 1
            try:
                actual = _sha256_of(store, original_key)
            except Exception as exc:  # noqa: BLE001 - reported, the run goes on
                problems.append(Problem("original_unreadable", subject, f"{original_key}: {exc}"))
            else:
                if actual != sha256:
                    problems.append(
                        Problem(
                            "original_corrupt",
                            subject,
                            f"{original_key}: recorded {sha256[:12]}…, found {actual[:12]}…",
                        )
                    )
        if state == MediaState.READY:
            missing = sorted(
                d["key"] for d in (derivatives or {}).values() if d.get("key") not in objects
            )
            for key in missing:
                problems.append(Problem("derivative_missing", subject, key, repaired=repair))
            if missing:
                rederive[story_id].append(media_id)

    cutoff = datetime.now(UTC) - collector.grace_period()
    for key, modified in collector.unreferenced_objects(store, refs):
        if modified is not None and modified > cutoff:
            counts["young_unreferenced"] += 1
            continue
        problem = Problem(
            "orphan_object",
            key,
            f"last written {modified:%Y-%m-%d %H:%M} UTC" if modified else "age unknown",
        )
        if repair:
            try:
                problem.repaired = collector.delete_if_unreferenced(key, cutoff, store=store)
            except Exception as exc:  # noqa: BLE001 - reported, the run goes on
                problem.detail += f"; could not remove: {exc}"
        problems.append(problem)

    reindex = _index_drift(problems, counts, repair)

    result = CheckResult(problems=problems, counts=dict(counts))
    with unit_of_work() as uow:
        if repair:
            for story_id, media_ids in rederive.items():
                outbox.emit(
                    "media.rederive_requested", {"story_id": story_id, "media_ids": media_ids}
                )
            _emit_reindex(reindex)
        run = uow.add(
            CheckRun(
                started_at=started,
                finished_at=utcnow(),
                trigger=trigger,
                fixity=fixity,
                repair=repair,
                counts=result.counts,
                problems=[asdict(p) for p in problems],
            )
        )
        uow.flush()
        result.run_id = run.id
    log.info(
        "check %s: %d problem(s), %d not repaired",
        result.run_id,
        len(problems),
        len(result.unrepaired),
    )
    return result


def _index_drift(problems: list[Problem], counts: dict[str, int], repair: bool) -> dict[int, str]:
    """Compare every story's status with the index's; return story id -> reason to reindex."""
    index = backends.search_index()
    index.refresh()
    in_index: dict[int, str] = index.indexed_statuses()
    in_db = dict(db.session.execute(db.select(Story.id, Story.status)).all())
    counts["stories"] = len(in_db)
    reindex: dict[int, str] = {}
    for story_id, status in in_db.items():
        indexed = in_index.get(story_id)
        if indexed is None:
            problems.append(
                Problem("index_missing", f"story {story_id}", f"status {status}", repaired=repair)
            )
            reindex[story_id] = "check: missing from the index"
        elif indexed != status:
            problems.append(
                Problem(
                    "index_stale",
                    f"story {story_id}",
                    f"database {status}, index {indexed}",
                    repaired=repair,
                )
            )
            reindex[story_id] = "check: stale status in the index"
    for story_id in sorted(set(in_index) - set(in_db)):
        problems.append(
            Problem("index_extra", f"story {story_id}", "not in the database", repaired=repair)
        )
        reindex[story_id] = "check: in the index, not in the database"
    return reindex


def _emit_reindex(reindex: dict[int, str]) -> None:
    for story_id, reason in reindex.items():
        outbox.emit("story.reindex_requested", {"story_id": story_id, "reason": reason})


def latest_runs(limit: int = 20) -> list[CheckRun]:
    """The most recent runs, newest first (for the admins' page)."""
    return list(db.session.scalars(db.select(CheckRun).order_by(CheckRun.id.desc()).limit(limit)))


def describe(kind: str) -> str:
    return KINDS.get(kind, kind)
