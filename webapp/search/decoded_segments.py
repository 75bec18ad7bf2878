"""A segment's decoded columns kept in a file beside it, so that a starting process reads them in
one unpickle instead of decoding every document's JSON again.

A web process's first search needs every segment's facet values, statuses, story ids and field
lengths as plain lists; decoding them from Whoosh's columns costs about 25 ms per 1,000 stories
(2.5 s at 100,000), and every new process (each gunicorn worker, after every restart) paid it.
Segments never change once written, so what one process decoded holds for all.

The file is named after the segment (``<segment id>.decoded<format>``), which puts it under
Whoosh's own clean-up: when a merge or an erasure retires the segment, the commit deletes the
file with the segment's other files. A file is written only while its segment is still live and
removed again if the segment disappeared meanwhile, so an erased story's facet values do not
outlive the segment that held them. A file that does not load or does not match its segment is
ignored (and rewritten): it is derived data, like the whole index.
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: Bump when the stored lists change meaning; older files are then ignored and replaced.
FORMAT = 1
_SUFFIX = f".decoded{FORMAT}"


@dataclass
class DecodedSegment:
    """What the engine needs of one segment, by local docnum (see ``ColumnData.from_lists``)."""

    doc_count: int
    facets: dict[str, list[tuple[str, ...]]]
    status: list[str]
    period_start: list[int | None]
    story_id: list[int]
    lengths: dict[str, list[int]]


def _path(folder: Path, segment_id: str) -> Path:
    return folder / f"{segment_id}{_SUFFIX}"


def _segment_is_live(folder: Path, segment_id: str) -> bool:
    # Every segment has a terms file; Whoosh deletes it when the segment is retired.
    return (folder / f"{segment_id}.trm").exists()


def load(folder: Path, segment_id: str, doc_count: int) -> DecodedSegment | None:
    """The segment's decoded columns, or None when there is no usable file."""
    path = _path(folder, segment_id)
    try:
        with open(path, "rb") as stream:
            decoded = pickle.load(stream)  # noqa: S301 - the index folder's own derived data
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - damaged or foreign: decode from the segment instead
        log.warning("decoded segment file ignored", extra={"path": str(path)}, exc_info=True)
        return None
    if not isinstance(decoded, DecodedSegment) or decoded.doc_count != doc_count:
        log.warning("decoded segment file does not match its segment", extra={"path": str(path)})
        return None
    return decoded


def save(folder: Path, segment_id: str, decoded: DecodedSegment) -> None:
    """Write the file atomically; never fatal (a read-only index folder just decodes each time)."""
    if not _segment_is_live(folder, segment_id):
        return
    path = _path(folder, segment_id)
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".decoding-")
        try:
            with os.fdopen(fd, "wb") as stream:
                pickle.dump(decoded, stream, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if not _segment_is_live(folder, segment_id):  # retired while we wrote: follow it
            path.unlink(missing_ok=True)
    except OSError:
        log.info("decoded segment file not written", extra={"path": str(path)}, exc_info=True)
