"""Bulk reads of Whoosh per-document columns (field lengths) into plain Python lists.

Used by the segment writer (block statistics) and by the engine (BM25 length normalisation):
reading a whole column once is far cheaper than Whoosh's per-document lookups. Read only; must
never write to an index.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
from whoosh.util.numeric import byte_to_length

_BYTE_TO_LENGTH = [byte_to_length(b) for b in range(256)]


def build_lengths(perdoc: Any, count: int, fieldnames: Iterable[str]) -> dict[str, list[int]]:
    """Per-document lengths of ``fieldnames`` in one segment (``perdoc`` is its column reader)."""
    out: dict[str, list[int]] = {}
    for fieldname in fieldnames:
        lenfield = _lenfield(fieldname)
        if perdoc.has_column(lenfield):
            column = perdoc.column_reader(lenfield, LENGTHS_COLUMN)
            out[fieldname] = [_BYTE_TO_LENGTH[b] for b in column]
        else:
            out[fieldname] = [0] * count
    return out
