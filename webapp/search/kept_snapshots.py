"""The assembled snapshot of the served index, kept in a file for the next process.

Opening 100,000 stories takes a fresh process about 150 ms even with every segment's decoded
file (``decoded_segments``): unpickling thirteen files, numbering their facet combinations into
one numbering, joining the columns. A web process that restarts while the index has not changed
since the last warm-up (the usual case: a deployment, a worker recycled by gunicorn) can read
the joined result in one unpickle instead. The file names the exact segments it was made from
(segment ids, their docnum offsets, how many deleted documents each had: segments never change
and deletions only grow, so the same key means the same data); any other key, a damaged or
foreign file, is ignored.

It holds facet values and statuses of every story, so it follows the index's erasure rules:
an erasure (``SearchIndex.purge``) deletes every kept snapshot after its commit; a warm-up that
saw the index change while writing deletes its own; each new one replaces the older ones.
"""

from __future__ import annotations

import logging
import pickle
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from webapp.search.contract import FACET_NAMES
from webapp.search.derived_files import replace_file
from webapp.search.facets import CodedFacets, ColumnData, ComboCodes

if TYPE_CHECKING:
    from webapp.search.matching import Snapshot

log = logging.getLogger(__name__)

#: Bump when what is kept changes meaning; older files are then ignored and replaced.
FORMAT = 1
_PREFIX = "snapshot-"
_TEMP_PREFIX = ".snapshot-"


@dataclass
class KeptSnapshot:
    """What a snapshot is made of, apart from its open Whoosh readers, in compact arrays: a
    pickle of Python ints costs about 60 ns each to read back, an array a memory copy."""

    format: int
    key: tuple[Any, ...]
    combos: list[tuple[str, ...]]  # the facet numbering's combinations
    seen: dict[str, list[int]]  # per facet, the codes it uses
    codes: dict[str, array]  # per facet counted by code, each document's code
    values: dict[str, CodedFacets]  # per facet counted by value: combinations + indexes
    status: CodedFacets  # the ``status`` facet of ``values``: each document's status
    period_start: list[int | None]
    story_id: array
    lengths: dict[str, array]
    deleted: array
    public: array

    @classmethod
    def of(cls, key: tuple[Any, ...], snap: Snapshot, length_fields: tuple[str, ...]) -> Self:
        columns = snap.columns
        registry = columns.registry
        by_value = [name for name in FACET_NAMES if name not in columns.codes]
        status = CodedFacets.from_values({"status": [(s,) for s in columns.status]})
        return cls(
            FORMAT,
            key,
            list(registry.combos),
            {name: sorted(registry.seen[name]) for name in columns.codes},
            {name: array("q", codes) for name, codes in columns.codes.items()},
            {name: CodedFacets.from_values({name: columns.values(name)}) for name in by_value},
            status,
            list(columns.period_start),
            array("q", columns.story_id),
            {name: array("i", snap.lengths[name]) for name in length_fields},
            array("q", sorted(snap.deleted)),
            array("q", sorted(snap.term_sets["\x00public"])),
        )

    def columns(self) -> ColumnData:
        registry = ComboCodes()
        registry.combos = self.combos
        registry.seen = {name: set(codes) for name, codes in self.seen.items()}
        registry.codes = {}  # never numbers anything: new segments get the engine's numbering
        values = {name: coded.values(name) for name, coded in self.values.items()}
        return ColumnData(
            [combo[0] for combo in self.status.values("status")],
            self.period_start,
            self.story_id.tolist(),
            {name: codes.tolist() for name, codes in self.codes.items()},
            registry,
            values,
        )

    def is_whole(self, key: tuple[Any, ...], length_fields: tuple[str, ...]) -> bool:
        """Made from exactly these segments, every list one entry per document, every index
        in range (a damaged or foreign file is not)."""
        if self.format != FORMAT or self.key != key:
            return False
        total = len(self.story_id)
        if set(self.codes) | set(self.values) != set(FACET_NAMES) or set(self.seen) != set(
            self.codes
        ):
            return False
        if not all(c.is_whole(total, [n]) for n, c in self.values.items()):
            return False
        if not self.status.is_whole(total, ["status"]):
            return False
        if len(self.period_start) != total:
            return False
        arrays = [*self.codes.values(), *(self.lengths.get(n) for n in length_fields)]
        if not all(isinstance(a, array) and len(a) == total for a in arrays):
            return False
        return _within(list(self.codes.values()), len(self.combos)) and _within(
            [self.deleted, self.public], total
        )


def _within(arrays: list[array], size: int) -> bool:
    """Every value of every array in ``range(size)`` (numpy: a few ms for millions)."""
    for values in arrays:
        found = np.frombuffer(values, dtype=np.int64) if values.typecode == "q" else None
        if found is None:
            return False
        if found.size and (found.min() < 0 or found.max() >= size):
            return False
    return True


def path_for(folder: Path, toc: int) -> Path:
    """Where the snapshot of table of contents ``toc`` is kept."""
    return folder / f"{_PREFIX}{toc}.pickle"


def load(
    folder: Path, toc: int, key: tuple[Any, ...], length_fields: tuple[str, ...]
) -> KeptSnapshot | None:
    """The kept snapshot of table of contents ``toc`` if it was made from ``key``'s segments."""
    path = path_for(folder, toc)
    try:
        with open(path, "rb") as stream:
            kept = pickle.load(stream)  # noqa: S301 - the index folder's own derived data
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - damaged or foreign: assemble from the segments instead
        log.warning("kept snapshot ignored", extra={"path": str(path)}, exc_info=True)
        return None
    try:
        whole = isinstance(kept, KeptSnapshot) and kept.is_whole(key, length_fields)
    except Exception:  # noqa: BLE001 - a foreign object's attributes may be anything
        whole = False
    if not whole:
        log.warning("kept snapshot does not match the index", extra={"path": str(path)})
        return None
    return kept


def save(folder: Path, toc: int, kept: KeptSnapshot, unchanged: Callable[[], bool]) -> None:
    """Write the snapshot of ``toc`` atomically and remove older ones, unless the index changed
    (``unchanged`` is asked before and after the write). Never fatal."""
    if not unchanged():
        return
    path = path_for(folder, toc)
    try:
        data = pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL)
        replace_file(path, data, _TEMP_PREFIX, folder)
    except OSError:
        log.info("snapshot not kept", extra={"path": str(path)}, exc_info=True)
        return
    if not unchanged():  # an erasure may have committed meanwhile: its values must not stay
        forget(folder)
        return
    for older in folder.glob(f"{_PREFIX}*.pickle"):
        if older != path:
            older.unlink(missing_ok=True)


def forget(folder: Path) -> None:
    """Delete every kept snapshot (after an erasure), half-written ones included."""
    for pattern in (f"{_PREFIX}*.pickle", f"{_TEMP_PREFIX}*"):
        for found in folder.glob(pattern):
            found.unlink(missing_ok=True)
