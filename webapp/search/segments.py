"""The segment writers of the story index, and the codec that reads what they write.

What is stored, exactly: Whoosh's W3 segment files (terms ``.trm``, postings ``.pst``,
per-document ``.fln`` lengths and columns, stored fields), **not** byte-for-byte what stock Whoosh
writes, in three ways that Whoosh's own readers only follow through :class:`LeanCodec`:

* posting blocks hold up to :data:`BLOCK_LIMIT` (256) postings, and are pickled **without zlib
  compression** (:data:`COMPRESSION` = 0; stock Whoosh compresses at level 3);
* in a block of a positions field (:class:`~webapp.search.schema.CompactPositions`), the values
  are **one joined bytes object** ``[count][positions…][count][positions…]…`` (uint32 each:
  the count big-endian, the positions in the machine's byte order)
  instead of a tuple of one bytes object per posting: :class:`_LeanLeafMatcher` splits it back,
  and the bulk readers in ``webapp.search.matching`` slice it directly;
* every segment is written as separate files, never a compound file.

The table of contents records :class:`LeanCodec` by its stored name
(``webapp.search.stored_names``), so Whoosh reopens every segment with it. Lengths come from an
in-memory list, postings are added without re-checking types the schema already guarantees, and
a rebuild writes whole segments from memory (:class:`BulkSegmentWriter`). This module must never
change what a reader finds (documents, terms, frequencies, positions) — only how it is laid out
and how fast it is written; ``docs/search-index.md`` describes the layout for whoever migrates it.
"""

from __future__ import annotations

from array import array
from itertools import chain
from operator import sub
from typing import Any

from whoosh.codec.whoosh3 import W3Codec, W3LeafMatcher, W3PostingsWriter
from whoosh.system import unpack_uint
from whoosh.writing import PostingPool, SegmentWriter

from webapp.search.columns_io import build_lengths
from webapp.search.schema import CompactPositions
from webapp.search.stored_names import StoredByName

#: Postings per block (stock Whoosh: 128): fewer pickles and block headers per term.
BLOCK_LIMIT = 256
#: zlib level of posting blocks: none. Decompressing blocks was a third of query time on
#: common words; the index is larger on disk (and in the page cache) instead.
COMPRESSION = 0


def split_values(blob: bytes) -> list[bytes]:
    """Cut a block's joined position values back into one value per posting.

    Each value is a uint32 count followed by that many uint32 positions
    (:class:`~webapp.search.schema.CompactPositions`), so the blob parses sequentially.
    """
    out: list[bytes] = []
    pos = 0
    end = len(blob)
    while pos < end:
        size = 4 + 4 * unpack_uint(blob[pos : pos + 4])[0]
        out.append(blob[pos : pos + size])
        pos += size
    return out


class _LeanLeafMatcher(W3LeafMatcher):
    """Reads blocks whose position values are one joined blob (see ``_mini_values``)."""

    def _read_values(self) -> None:
        if self._data is None:
            self._read_data()
        values = self._data[2]
        if isinstance(values, bytes) and isinstance(self.format, CompactPositions):
            self._values = split_values(values)
        else:
            super()._read_values()


class _LeanPostingsWriter(W3PostingsWriter):
    def _mini_values(self) -> Any:
        # One bytes object per block instead of a tuple of one per posting: unpickling a
        # block is then ~10x cheaper, and word queries never pay for positions they ignore.
        if isinstance(self._format, CompactPositions):
            return b"".join(self._values)
        return super()._mini_values()

    def _mini_ids(self) -> tuple[int, ...]:
        ids = self._ids
        return tuple(map(sub, ids, chain((0,), ids)))

    def _mini_weights(self) -> Any:
        weights = self._weights
        first = weights[0]
        if weights.count(first) == len(weights):
            return None if first == 1.0 else first
        return tuple(weights)

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


class LeanCodec(StoredByName, W3Codec):
    """Whoosh's W3 codec with the lean postings writer and the joined position blocks."""

    stored_name = "passages.lean-codec"

    def __init__(self) -> None:
        super().__init__(blocklimit=BLOCK_LIMIT, compression=COMPRESSION)

    def postings_reader(
        self, dbfile: Any, terminfo: Any, format_: Any, term: Any = None, scorer: Any = None
    ) -> Any:
        if terminfo.is_inlined():
            return super().postings_reader(dbfile, terminfo, format_, term=term, scorer=scorer)
        offset, length = terminfo.extent()
        return _LeanLeafMatcher(dbfile, offset, length, format_, term=term, scorer=scorer)

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
    """``SegmentWriter`` with the lean pool, codec and in-memory field lengths.

    Segments are written as separate files, never as one compound file: Whoosh opens a
    compound file's parts by copying them into memory (``BytesIO`` over an mmap), which costs
    seconds and hundreds of megabytes per searcher on a large segment.
    """

    def __init__(self, index: Any, **kwargs: Any) -> None:
        kwargs.setdefault("codec", LeanCodec())
        kwargs.setdefault("compound", False)
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


class BulkSegmentWriter(LeanSegmentWriter):
    """Writes a whole segment from memory, term by term and block by block.

    For full rebuilds only. Postings are kept in per-term lists while documents are added (no
    external sort, no temporary run files) and written in blocks of :data:`BLOCK_LIMIT` through
    Whoosh's own block serialiser, so the files are the ones Whoosh would write. Memory grows with
    the postings of the segment: callers cut the input into segments of a few thousand stories.
    """

    def __init__(self, index: Any, **kwargs: Any) -> None:
        super().__init__(index, **kwargs)
        # fieldname -> term bytes -> ([docnum], [weight], [value bytes])
        self._inverted: dict[str, dict[bytes, tuple[list[int], list[float], list[bytes]]]] = {}
        self._field_lengths: dict[str, dict[int, int]] = {}

    def add_document(self, **fields: Any) -> None:
        self._check_state()
        perdocwriter = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        fieldnames = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, fieldnames)
        perdocwriter.start_doc(docnum)
        for fieldname in fieldnames:
            value = fields.get(fieldname)
            if value is None:
                continue
            field = schema[fieldname]
            length = 0
            if field.indexed:
                terms = self._inverted.setdefault(fieldname, {})
                for tbytes, freq, weight, vbytes in field.index(value):
                    entry = terms.get(tbytes)
                    if entry is None:
                        entry = terms[tbytes] = ([], [], [])
                    entry[0].append(docnum)
                    entry[1].append(weight)
                    entry[2].append(vbytes)
                    length += freq
                if field.scorable:
                    self._field_lengths.setdefault(fieldname, {})[docnum] = length
            stored = fields.get(f"_stored_{fieldname}", value)
            perdocwriter.add_field(fieldname, field, stored if field.stored else None, length)
            column = field.column_type
            if column and stored is not None:
                perdocwriter.add_column_value(fieldname, column, field.to_column_value(stored))
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    def _flush_segment(self) -> None:
        from whoosh.util.numeric import byte_to_length, length_to_byte

        self.perdocwriter.close()
        writer = self.fieldwriter
        limit = BLOCK_LIMIT
        for fieldname in sorted(self._inverted):
            terms = self._inverted[fieldname]
            if not terms:
                continue
            # Block statistics use the same quantised lengths a reader would see.
            raw_lengths = self._field_lengths.get(fieldname, {})
            lengths = {d: byte_to_length(length_to_byte(n)) for d, n in raw_lengths.items()}
            writer.start_field(fieldname, self.schema[fieldname])
            for tbytes in sorted(terms):
                ids, weights, values = terms[tbytes]
                writer.start_term(tbytes)
                postings = writer._postwriter  # noqa: SLF001 - bulk block interface
                count = len(ids)
                for start in range(0, count, limit):
                    end = min(start + limit, count)
                    block_ids = ids[start:end]
                    block_weights = weights[start:end]
                    postings._ids = array("I", block_ids)  # noqa: SLF001
                    postings._weights = array("f", block_weights)  # noqa: SLF001
                    postings._values = values[start:end]  # noqa: SLF001
                    postings._maxweight = max(block_weights)  # noqa: SLF001
                    if lengths:
                        block_lengths = [lengths.get(d, 0) for d in block_ids]
                        longest = max(block_lengths)
                        postings._maxlength = longest  # noqa: SLF001
                        postings._minlength = (  # noqa: SLF001
                            min(n for n in block_lengths if n) if longest else None
                        )
                    if end < count:
                        postings._write_block()  # noqa: SLF001
                writer.finish_term()  # writes the last block
            writer.finish_field()
            terms.clear()
        writer.close()
        self._inverted.clear()
        self._field_lengths.clear()
