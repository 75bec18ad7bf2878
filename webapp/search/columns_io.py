"""Bulk reads of Whoosh per-document columns (field lengths, the facets column) into plain lists.

Used by the segment writer (block statistics) and by the engine (BM25 length normalisation, facet
data): reading a whole column at once is far cheaper than Whoosh's per-document lookups, which
seek and read once per document. That matters most when a web process opens a large index for
its first search. Read only; must never write to an index.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import add
from typing import Any

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
from whoosh.columns import NumericColumn, VarBytesColumn
from whoosh.util.numeric import byte_to_length

_BYTE_TO_LENGTH = [byte_to_length(b) for b in range(256)]


def _length_bytes(column: Any, count: int) -> bytes | None:
    """The one-byte lengths of a column in one read (None if it is not such a column)."""
    if not isinstance(column, NumericColumn.Reader) or column._typecode != "B":  # noqa: SLF001
        return None
    stored = min(column._count, count)  # noqa: SLF001
    raw = column._dbfile.get(column._basepos, stored) if stored else b""  # noqa: SLF001
    # Documents past the stored ones take the column's default (0), as Whoosh's reader does.
    return raw + bytes(count - stored)


def build_lengths(perdoc: Any, count: int, fieldnames: Iterable[str]) -> dict[str, list[int]]:
    """Per-document lengths of ``fieldnames`` in one segment (``perdoc`` is its column reader)."""
    out: dict[str, list[int]] = {}
    for fieldname in fieldnames:
        lenfield = _lenfield(fieldname)
        if perdoc.has_column(lenfield):
            column = perdoc.column_reader(lenfield, LENGTHS_COLUMN)
            raw = _length_bytes(column, count)
            if raw is not None:
                out[fieldname] = list(map(_BYTE_TO_LENGTH.__getitem__, raw))
            else:
                out[fieldname] = [_BYTE_TO_LENGTH[b] for b in column]
        else:
            out[fieldname] = [0] * count
    return out


def var_bytes_values(column: Any) -> list[bytes]:
    """Every document's value of a variable-length bytes column, read with one file read."""
    if not isinstance(column, VarBytesColumn.Reader):
        return list(column)
    lengths, offsets = column._lengths, column._offsets  # noqa: SLF001
    if not len(lengths):
        return []
    data = column._dbfile.get(column._basepos, offsets[-1] + lengths[-1])  # noqa: SLF001
    return list(map(data.__getitem__, map(slice, offsets, map(add, offsets, lengths))))
