"""A segment's decoded columns kept in a file beside it, so that a starting process reads them in
one unpickle instead of decoding every document's JSON again.

A web process's first search needs every segment's facet values, statuses, story ids and field
lengths as plain lists; decoding them from Whoosh's columns costs about 25 ms per 1,000 stories
(2.5 s at 100,000), and every new process (each gunicorn worker, after every restart) paid it.
Segments never change once written, so what one process decoded holds for all.

Format 3 keeps each facet as the segment's distinct value combinations plus one small integer
per document (arrays), its strings shared, and numbers as arrays: at 100,000 stories the files
load and are numbered in about 90 ms, where format 2 (a tuple per document and facet) took 280.

The file is named after the segment (``<segment id>.decoded<format>``), which puts it under
Whoosh's own clean-up: when a merge or an erasure retires the segment, the commit deletes the
file with the segment's other files. A file is written only while its segment is still live and
removed again if the segment disappeared meanwhile, so an erased story's facet values do not
outlive the segment that held them. A file that does not load or does not match its segment is
ignored (and rewritten): it is derived data, like the whole index.
"""

from __future__ import annotations

import logging
import pickle
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from webapp.search.derived_files import replace_file
from webapp.search.facets import CodedFacets

log = logging.getLogger(__name__)

#: Bump when the stored lists change meaning; older files are then ignored and replaced.
FORMAT = 3
_SUFFIX = f".decoded{FORMAT}"


@dataclass
class DecodedSegment:
    """What the engine needs of one segment, by local docnum (see ``ColumnData.from_coded``):
    facets as combinations and compact index arrays, numbers as arrays (a new process reads
    100,000 stories' columns in tens of milliseconds)."""

    segment_id: str
    doc_count: int
    facets: CodedFacets
    status: list[str]
    period_start: list[int | None]
    story_id: array
    lengths: dict[str, array]


def _path(folder: Path, segment_id: str) -> Path:
    return folder / f"{segment_id}{_SUFFIX}"


def _segment_is_live(folder: Path, segment_id: str) -> bool:
    # Every segment has a terms file; Whoosh deletes it when the segment is retired.
    return (folder / f"{segment_id}.trm").exists()


def load(
    folder: Path, segment_id: str, doc_count: int, length_fields: Iterable[str] = ()
) -> DecodedSegment | None:
    """The segment's decoded columns (with the lengths of ``length_fields`` at least), or None
    when there is no usable file."""
    path = _path(folder, segment_id)
    try:
        with open(path, "rb") as stream:
            decoded = pickle.load(stream)  # noqa: S301 - the index folder's own derived data
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - damaged or foreign: decode from the segment instead
        log.warning("decoded segment file ignored", extra={"path": str(path)}, exc_info=True)
        return None
    if not _matches(decoded, segment_id, doc_count, length_fields):
        log.warning("decoded segment file does not match its segment", extra={"path": str(path)})
        return None
    return decoded


def _matches(
    decoded: object, segment_id: str, doc_count: int, length_fields: Iterable[str]
) -> bool:
    """Whether a loaded file is this segment's, whole: every list one entry per document and
    every facet index in range (a file copied from another segment of the same size, or cut
    short, must not be believed)."""
    if not isinstance(decoded, DecodedSegment):
        return False
    if decoded.segment_id != segment_id or decoded.doc_count != doc_count:
        return False
    if not isinstance(decoded.facets, CodedFacets) or not decoded.facets.is_whole(doc_count):
        return False
    if not isinstance(decoded.lengths, dict) or not set(length_fields) <= set(decoded.lengths):
        return False
    arrays = [decoded.story_id, *decoded.lengths.values()]
    if not all(isinstance(a, array) and len(a) == doc_count for a in arrays):
        return False
    lists = [decoded.status, decoded.period_start]
    return all(isinstance(values, list) and len(values) == doc_count for values in lists)


def save(folder: Path, segment_id: str, decoded: DecodedSegment) -> None:
    """Write the file atomically; never fatal (a read-only index folder just decodes each time)."""
    if not _segment_is_live(folder, segment_id):
        return
    path = _path(folder, segment_id)
    try:
        # Named after the segment too: a writer killed before the rename leaves a file that
        # Whoosh's clean-up deletes with the segment (an erased story's values included).
        replace_file(
            path,
            pickle.dumps(decoded, protocol=pickle.HIGHEST_PROTOCOL),
            f"{segment_id}.decoding-",
            folder / f"{segment_id}.trm",
        )
        if not _segment_is_live(folder, segment_id):  # retired while we wrote: follow it
            path.unlink(missing_ok=True)
    except OSError:
        log.info("decoded segment file not written", extra={"path": str(path)}, exc_info=True)
