"""A leaner Whoosh segment writer for the story index.

Whoosh's writer does several things per posting that dominate a full reindex of 100,000 stories:
it reads each document's field length back from disk (through three layers of calls) to keep block
statistics, checks types with ``assert`` on every posting, and estimates memory with a dozen
``len`` calls. This writer produces the *same on-disk format* (a reader cannot tell the
difference) with those costs taken out: lengths come from an in-memory list, postings are added
without re-checking types the schema already guarantees, and blocks hold 256 postings compressed
at zlib level 1. It must never change what is written, only how fast.
"""

from __future__ import annotations

from typing import Any

from whoosh.codec.whoosh3 import W3Codec, W3PostingsWriter
from whoosh.writing import PostingPool, SegmentWriter

from webapp.search.columns_io import build_lengths

#: Postings per block: bigger blocks mean fewer pickles and block headers per term.
BLOCK_LIMIT = 256
#: zlib level of posting blocks: level 1 is several times faster than Whoosh's 3, ~10 % larger.
COMPRESSION = 1


class _LeanPostingsWriter(W3PostingsWriter):
    def add_posting(
        self, id_: int, weight: float, vbytes: bytes, length: int | None = None
    ) -> None:
        if len(self._ids) >= self._blocklimit:
            self._write_block()
        self._ids.append(id_)
        self._weights.append(weight)
        if weight > self._maxweight:
            self._maxweight = weight
        if vbytes:
            self._values.append(vbytes)
        if length:
            if self._minlength is None or length < self._minlength:
                self._minlength = length
            if length > self._maxlength:
                self._maxlength = length


class LeanCodec(W3Codec):
    """Whoosh's W3 codec with the lean postings writer (identical file format)."""

    def __init__(self) -> None:
        super().__init__(blocklimit=BLOCK_LIMIT, compression=COMPRESSION)

    def postings_writer(self, dbfile: Any, byteids: bool = False) -> W3PostingsWriter:
        return _LeanPostingsWriter(
            dbfile,
            blocklimit=self._blocklimit,
            byteids=byteids,
            compression=self._compression,
            inlinelimit=self._inlinelimit,
        )


class _LeanPool(PostingPool):
    def add(self, item: tuple[str, bytes, int, float, bytes]) -> None:
        # A fixed per-item estimate (tuple, ints, strings) plus the variable parts.
        self.currentsize += 160 + len(item[1]) + len(item[4] or b"")
        if self.currentsize > self.limit:
            self.save()
        self.current.append(item)


class _Lengths:
    """Field lengths of the segment being written, read once into lists."""

    def __init__(self, perdoc: Any, fieldnames: set[str]) -> None:
        self._lists = build_lengths(perdoc, perdoc.doc_count_all(), fieldnames)

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int:
        lengths = self._lists.get(fieldname)
        return lengths[docnum] if lengths is not None else default


class LeanSegmentWriter(SegmentWriter):
    """``SegmentWriter`` with the lean pool, codec and in-memory field lengths."""

    def __init__(self, index: Any, **kwargs: Any) -> None:
        kwargs.setdefault("codec", LeanCodec())
        super().__init__(index, poolclass=_LeanPool, **kwargs)

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        pdr = self.per_document_reader() if self.codec.length_stats else None
        lengths = None
        if pdr is not None:
            scorable = {name for name, f in self.schema.items() if f.scorable}
            lengths = _Lengths(pdr, scorable)
        self.fieldwriter.add_postings(self.schema, lengths, self.pool.iter_postings())
        self.fieldwriter.close()
        if pdr is not None:
            pdr.close()
