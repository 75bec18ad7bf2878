"""Bulk evaluation of a parsed query over the index's postings: matching documents and scores.

Whoosh's matchers walk postings one document at a time in Python, which costs milliseconds per
thousand matches. Here each posting list is read block by block (Whoosh's own on-disk blocks)
into plain lists, BM25 is computed in one comprehension per posting list, and AND / OR / NOT are
dictionary and set operations that run in C. The result is every matching document with its
score, from which the engine takes the total, the facet counts and the top of the page.

This module reads a :class:`Snapshot` (one consistent view of the index); it must never write,
and it never decides visibility: the engine hands it the visible documents (``within``), and
everything computed here for a search comes from those alone — scores (document frequencies,
document count and average lengths of a :class:`Scope`), prefix and stem expansions (only words
that occur in a visible document) — so that nothing a reader sees depends on a story they may not
see.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass, field
from itertools import accumulate, compress
from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.reading import TermNotFound

from webapp.search.analysis import STEMMED_LANGUAGES, is_unspaced, primary_language, stem
from webapp.search.columns_io import StoredFields
from webapp.search.facets import ColumnData
from webapp.search.query import Clause, ParsedQuery
from webapp.search.schema import SAID_LANGUAGE, facet_term

#: BM25 parameters (the usual values).
K1 = 1.2
B = 0.75

#: Ranking weights: a match in the title or a place counts more than one in the body.
FIELD_BOOSTS: dict[str, float] = {"title": 3.0, "places": 2.5, "body": 1.0}
#: Weight of a word that only matches through its stem ("usines" for "usine").
STEM_BOOST = 0.6
#: A prefix expanding to more words than this keeps only this many (alphabetical).
MAX_PREFIX_TERMS = 400
#: Decoded posting lists are kept for the life of the snapshot, up to this many postings
#: (8 bytes each as arrays: 4,000,000 ≈ 32 MB per process), least recently used dropped first.
#: The common words that stemming drags into many queries ("toutes" → tout, toute) cost tens
#: of ms to decode each time, and a query reads each of its lists twice (candidates, scores).
CACHE_MAX_POSTINGS = 4_000_000
#: What an entry costs besides its postings (key, tuple, arrays), in postings: bounds the
#: number of tiny or empty lists (a word absent from titles) the cache can hold.
CACHE_ENTRY_COST = 32

#: Which index field a ``field:`` clause searches.
CLAUSE_FIELDS: dict[str | None, tuple[str, ...]] = {
    None: ("title", "places", "body"),
    "title": ("title",),
    "place": ("places",),
    "theme": ("themes",),
    "organisation": ("organisation",),
    "collection": ("collections",),
}

Scores = dict[int, float]


@dataclass
class Leaf:
    """One segment of the snapshot and the global docnum of its first document."""

    reader: Any
    offset: int


class Scope:
    """BM25 statistics of the documents one kind of search may see (public: published only).

    A word's document frequency, the document count and the average field lengths are counted
    over these documents alone, so that a story the searcher may not see cannot move the order
    of what they do see. Values are computed on first use and kept for the snapshot's life.
    """

    def __init__(self, snap: Snapshot, docs: frozenset[int]) -> None:
        self.docs = docs
        self.doc_count = max(1, len(docs))
        #: Every document of the snapshot is visible: frequencies are the posting counts.
        self.whole = len(docs) == len(snap.columns.status)
        self._snap = snap
        self._avg: dict[str, float] = {}
        self._df: dict[tuple[str, str], int] = {}

    def avg_length(self, fieldname: str) -> float:
        found = self._avg.get(fieldname)
        if found is None:
            lengths = self._snap.lengths.get(fieldname)
            if self.whole or not lengths:
                found = self._snap.avg_length.get(fieldname, 1.0)
            else:
                found = sum(map(lengths.__getitem__, self.docs)) / self.doc_count
            self._avg[fieldname] = found
        return found

    def df(self, fieldname: str, token: str, ids: Sequence[int] | None = None) -> int:
        """Visible documents containing the word; ``ids`` are its full postings when known."""
        if self.whole and ids is not None:
            return len(ids)
        key = (fieldname, token)
        found = self._df.get(key)
        if found is None:
            if ids is None:
                ids = self._snap.postings(fieldname, token)[0]
            found = len(ids) if self.whole else sum(map(self.docs.__contains__, ids))
            self._df[key] = found
        return found


@dataclass
class Snapshot:
    """A consistent view of the index: segments, per-document columns, cached filter sets."""

    leaves: list[Leaf]
    columns: ColumnData
    lengths: dict[str, list[int]]
    deleted: frozenset[int]
    doc_count: int
    avg_length: dict[str, float]
    term_sets: dict[str, frozenset[int]] = field(default_factory=dict)
    expansions: dict[tuple[str, str, int], list[tuple[str, str]]] = field(default_factory=dict)
    # (field, token) -> (docnums, frequencies) of long posting lists, least recently used first.
    # Dropped with the snapshot (a commit makes a new one), so it can never serve stale postings.
    posting_cache: dict[tuple[str, str], tuple[array, array]] = field(default_factory=dict)
    cached_postings: int = 0
    scopes: dict[int, Scope] = field(default_factory=dict)
    _stored: dict[int, StoredFields] = field(default_factory=dict)
    _leaf_starts: list[int] | None = None

    def stored_fields(self, docnum: int) -> dict[str, Any]:
        """A document's stored fields (see :class:`StoredFields`), the column of each segment
        opened once per snapshot."""
        if self._leaf_starts is None:
            self._leaf_starts = [leaf.offset for leaf in self.leaves]
        at = bisect_right(self._leaf_starts, docnum) - 1
        reader = self._stored.get(at)
        if reader is None:
            reader = self._stored[at] = StoredFields(self.leaves[at].reader)
        return reader(docnum - self.leaves[at].offset)

    def scope(self, docs: frozenset[int]) -> Scope:
        """The statistics of ``docs`` (one of the snapshot's visible sets), kept per snapshot."""
        found = self.scopes.get(id(docs))
        if found is None or found.docs is not docs:
            found = self.scopes[id(docs)] = Scope(self, docs)
        return found

    # ------------------------------------------------------------ postings

    def postings(
        self, fieldname: str, token: str, values: list[bytes] | None = None
    ) -> tuple[Sequence[int], Sequence[float]]:
        """Global docnums and term frequencies of one term (deleted documents included).

        With ``values``, the raw posting values (positions) are appended to it as well, from the
        same block reads. Without, long lists come from (and go to) the snapshot's bounded cache.
        """
        if values is None:
            key = (fieldname, token)
            cache = self.posting_cache
            hit = cache.pop(key, None)
            if hit is not None:
                cache[key] = hit  # most recently used goes last
                return hit
            ids, tfs = self._read_postings(fieldname, token, None)
            self._remember(key, ids, tfs)
            return ids, tfs
        return self._read_postings(fieldname, token, values)

    def _remember(self, key: tuple[str, str], ids: list[int], tfs: list[float]) -> None:
        """Keep a decoded list as compact arrays; the least recently used go beyond the bound."""
        size = len(ids) + CACHE_ENTRY_COST
        if size > CACHE_MAX_POSTINGS:
            return
        cache = self.posting_cache
        while cache and self.cached_postings + size > CACHE_MAX_POSTINGS:
            old = cache.pop(next(iter(cache)))
            self.cached_postings -= len(old[0]) + CACHE_ENTRY_COST
        cache[key] = (array("i", ids), array("f", tfs))
        self.cached_postings += size

    def _read_postings(
        self, fieldname: str, token: str, values: list[bytes] | None
    ) -> tuple[list[int], list[float]]:
        ids: list[int] = []
        tfs: list[float] = []
        btext = token.encode("utf-8")
        for leaf in self.leaves:
            terms = leaf.reader._terms  # noqa: SLF001 - the bulk path needs the raw term table
            try:
                matcher = terms.matcher(fieldname, btext, leaf.reader.schema[fieldname].format)
            except (TermNotFound, KeyError):
                continue
            _read_all(matcher, leaf.offset, ids, tfs, values)
        return ids, tfs

    def position_keys(self, fieldname: str, token: str, wanted: np.ndarray) -> np.ndarray:
        """Every position of ``token`` in the ``wanted`` documents (a sorted array of docnums)
        as one array of ``docnum << 32 | position`` (uint64): a phrase is then a few
        array intersections in C instead of a set per document in Python."""
        parts: list[np.ndarray] = []
        btext = token.encode("utf-8")
        for leaf in self.leaves:
            try:
                matcher = leaf.reader._terms.matcher(  # noqa: SLF001
                    fieldname, btext, leaf.reader.schema[fieldname].format
                )
            except (TermNotFound, KeyError):
                continue
            _position_keys(matcher, leaf.offset, wanted, parts)
        if not parts:
            return np.empty(0, dtype=np.uint64)
        keys = np.concatenate(parts)
        # Ascending already (leaves by offset, blocks by id, positions in order): checked in one
        # pass, since the phrase's intersections rely on it.
        if keys.size > 1 and not (keys[1:] > keys[:-1]).all():
            keys = np.unique(keys)
        return keys

    def term_set(self, fieldname: str, token: str) -> frozenset[int]:
        """Documents containing a term, cached for the snapshot (filters, visibility)."""
        key = f"{fieldname}\x00{token}"
        cached = self.term_sets.get(key)
        if cached is None:
            cached = self.term_sets[key] = frozenset(self.postings(fieldname, token)[0])
        return cached

    def language_set(self, languages: list[str]) -> frozenset[int]:
        """Stories with words in any of ``languages`` (their own language, or a transcript's),
        cached for the snapshot (the union of two languages' sets is 100,000 documents: too
        slow to redo for every stem variant)."""
        key = "\x00languages\x00" + "\x00".join(sorted(languages))
        cached = self.term_sets.get(key)
        if cached is None:
            # The story's own language from the decoded columns (one pass in C over every
            # document, where the facet's posting lists take tens of milliseconds to read at
            # 100,000 stories); a transcript's language from its few postings.
            own = self.columns.documents_with(
                "language", lambda value: primary_language(value) in languages
            )
            said = [self.term_set("facet", facet_term(SAID_LANGUAGE, lang)) for lang in languages]
            cached = self.term_sets[key] = own.union(*said)
        return cached

    def terms_with_prefix(
        self,
        fieldname: str,
        prefix: str,
        within: frozenset[int] | None = None,
        accept: Callable[[str], bool] | None = None,
    ) -> list[str]:
        """Indexed words starting with ``prefix``, alphabetically, at most
        :data:`MAX_PREFIX_TERMS`; with ``within``, only words of those documents; with
        ``accept``, only words it accepts (tested first: it is cheaper than reading postings).

        Each segment's words are walked in order and a word counts only if one of its postings
        in that segment is a visible document, until the segment gave the bound: the first
        visible words overall are among them, so words of unpublished, deleted or erased
        stories can neither show through nor crowd the visible ones out of the bound.
        """
        words: set[str] = set()
        whole = within is None or len(within) == len(self.columns.status)
        for leaf in self.leaves:
            kept = 0
            for btext in leaf.reader.expand_prefix(fieldname, prefix):
                word = btext.decode("utf-8") if isinstance(btext, bytes) else btext
                if accept is not None and not accept(word):
                    continue
                if not whole and not self._in_leaf(leaf, fieldname, word, within):
                    continue
                words.add(word)
                kept += 1
                if kept >= MAX_PREFIX_TERMS:
                    break
        return sorted(words)[:MAX_PREFIX_TERMS]

    def _in_leaf(self, leaf: Leaf, fieldname: str, word: str, within: Set[int]) -> bool:
        """Whether one of the word's postings in this segment is a document of ``within``."""
        try:
            matcher = leaf.reader._terms.matcher(  # noqa: SLF001
                fieldname, word.encode("utf-8"), leaf.reader.schema[fieldname].format
            )
        except (TermNotFound, KeyError):
            return False
        return _any_within(matcher, leaf.offset, within)

    def words_within(
        self, fieldname: str, token: str, maxdist: int, prefix: int, within: frozenset[int]
    ) -> list[tuple[int, str]]:
        """Words at most ``maxdist`` edits from ``token`` (sharing its first ``prefix``
        letters) that occur in a document of ``within``, with their visible document count."""
        found: set[str] = set()
        for leaf in self.leaves:
            for word in leaf.reader.terms_within(fieldname, token, maxdist, prefix=prefix):
                found.add(word.decode("utf-8") if isinstance(word, bytes) else word)
        found.discard(token)
        scope = self.scope(within)
        counted = [(scope.df(fieldname, word), word) for word in sorted(found)]
        return [(n, word) for n, word in counted if n]

    def doc_frequency(self, fieldname: str, token: str) -> int:
        btext = token.encode("utf-8")
        return sum(leaf.reader.doc_frequency(fieldname, btext) for leaf in self.leaves)

    def stem_expansions(
        self, token: str, within: frozenset[int] | None = None
    ) -> list[tuple[str, str]]:
        """``(language, word)`` pairs: indexed words that share ``token``'s stem in a language
        (with ``within``, only words of those documents).

        Stemming happens at query time against the index's vocabulary, so the index holds each
        word once; a word found this way only counts for stories in that language.
        """
        key = ("body", token, id(within))
        cached = self.expansions.get(key)
        if cached is not None:
            return cached
        found: list[tuple[str, str]] = []
        if not is_unspaced(token) and not token.isdigit():
            for language in STEMMED_LANGUAGES:
                if not self.language_set([language]):
                    continue  # no words in that language: its stemmer can match nothing
                stemmed = stem(language, token)
                if not stemmed or len(stemmed) < 3:
                    continue
                prefix = stemmed[: max(3, len(stemmed) - 1)]

                def same_stem(word: str, language: str = language, stemmed: str = stemmed) -> bool:
                    return word != token and stem(language, word) == stemmed

                found.extend(
                    (language, word)
                    for word in self.terms_with_prefix("body", prefix, within, same_stem)
                )
        self.expansions[key] = found
        return found

    # ------------------------------------------------------------ scoring

    def bm25(
        self,
        fieldname: str,
        ids: list[int],
        tfs: list[float],
        boost: float,
        df: int | None = None,
        scope: Scope | None = None,
    ) -> list[float]:
        """BM25 of each posting; ``df`` is the term's document frequency (in ``scope``) when
        ``ids`` is only the part of its postings that survived a restriction."""
        scope = scope or self.scope(self.term_sets["\x00live"])
        df = len(ids) if df is None else df
        if not df or not ids:
            return []
        n = max(scope.doc_count, df)
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5)) * boost * (K1 + 1)
        lengths = self.lengths.get(fieldname)
        k = K1 * (1 - B)
        if not lengths:
            return [idf * tf / (tf + K1) for tf in tfs]
        kb = K1 * B / max(scope.avg_length(fieldname), 1.0)
        return [idf * tf / (tf + k + kb * lengths[d]) for d, tf in zip(ids, tfs, strict=True)]

    def term_scores(
        self,
        fieldname: str,
        token: str,
        boost: float,
        into: Scores,
        restrict: Set[int] | None = None,
        also: Set[int] | None = None,
        narrowed: tuple[Sequence[int], Sequence[float], int] | None = None,
        scope: Scope | None = None,
    ) -> None:
        """Add the term's BM25 to ``into``, only for documents in ``restrict`` (and ``also``)
        when given.

        The restriction runs before scoring, with ``map``/``compress`` (C loops), so a very
        common word costs one membership test per posting, not a BM25 and a dict entry.
        ``narrowed`` is the term's postings already cut down to a superset of ``restrict``
        (ids, frequencies, full document frequency), from the candidate pass. Frequencies and
        lengths are those of ``scope`` (the documents the search may see).
        """
        scope = scope or self.scope(self.term_sets["\x00live"])
        if narrowed is not None:
            ids, tfs, _ = narrowed
            df = scope.df(fieldname, token)
        else:
            ids, tfs = self.postings(fieldname, token)
            df = scope.df(fieldname, token, ids)
        for allowed in (restrict, also):
            if allowed is not None and ids:
                mask = list(map(allowed.__contains__, ids))
                ids = list(compress(ids, mask))
                tfs = list(compress(tfs, mask))
        lengths = self.lengths.get(fieldname)
        if not into or not lengths or not ids:
            _add(into, ids, self.bm25(fieldname, ids, tfs, boost, df, scope))
            return
        # Adding to existing scores: BM25 computed and added in one pass (same formula and
        # order of operations as ``bm25``, so the sums are bit-for-bit the same).
        n = max(scope.doc_count, df)
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5)) * boost * (K1 + 1)
        k = K1 * (1 - B)
        kb = K1 * B / max(scope.avg_length(fieldname), 1.0)
        get = into.get
        for d, tf in zip(ids, tfs, strict=True):
            into[d] = get(d, 0.0) + idf * tf / (tf + k + kb * lengths[d])


def _read_all(
    matcher: Any,
    offset: int,
    ids: list[int],
    tfs: list[float],
    values: list[bytes] | None = None,
) -> None:
    """Append all postings of a leaf matcher, reading whole blocks at a time."""
    if isinstance(matcher, W3LeafMatcher):
        while matcher.is_active():
            if matcher._data is None:  # noqa: SLF001
                matcher._read_data()  # noqa: SLF001
            block_ids = matcher._data[0]  # noqa: SLF001 - delta-encoded docnums
            # Running sum started at the segment's offset: global docnums in one C loop.
            running = accumulate(block_ids, initial=offset)
            next(running)
            ids.extend(running)
            matcher._read_weights()  # noqa: SLF001
            tfs.extend(matcher._weights)  # noqa: SLF001
            if values is not None:
                matcher._read_values()  # noqa: SLF001 - splits a joined block if needed
                values.extend(matcher._values)  # noqa: SLF001
            matcher._next_block()  # noqa: SLF001
        return
    while matcher.is_active():
        ids.append(matcher.id() + offset)
        tfs.append(matcher.weight())
        if values is not None:
            values.append(matcher.value())
        matcher.next()


def _any_within(matcher: Any, offset: int, within: Set[int]) -> bool:
    """Whether a posting of a leaf matcher is a document of ``within``, reading a block at a
    time and stopping at the first (a common word's first block almost always holds one)."""
    contains = within.__contains__
    if isinstance(matcher, W3LeafMatcher):
        while matcher.is_active():
            if matcher._data is None:  # noqa: SLF001
                matcher._read_data()  # noqa: SLF001
            running = accumulate(matcher._data[0], initial=offset)  # noqa: SLF001
            next(running)
            if any(map(contains, running)):
                return True
            matcher._next_block()  # noqa: SLF001
        return False
    while matcher.is_active():
        if contains(matcher.id() + offset):
            return True
        matcher.next()
    return False


def _position_keys(matcher: Any, offset: int, wanted: np.ndarray, parts: list[np.ndarray]) -> None:
    """:meth:`Snapshot.position_keys` for one segment's posting list.

    Our blocks' values are one blob of records, each a uint32 count (the term frequency)
    followed by that many uint32 positions; a plain Whoosh block (or posting) holds the same
    record per posting as a separate value.
    """
    shift = np.uint64(32)
    if not isinstance(matcher, W3LeafMatcher):  # not a block reader: posting by posting
        wanted_set = set(wanted.tolist())
        while matcher.is_active():
            doc = matcher.id() + offset
            if doc in wanted_set:
                positions = np.frombuffer(matcher.value()[4:], dtype=np.uint32)
                parts.append(np.uint64(doc) << shift | positions.astype(np.uint64))
            matcher.next()
        return
    # The segment's blocks are gathered first and decoded together: a few numpy passes per
    # posting list rather than per block of 256 postings.
    deltas: list[Any] = []
    lengths: list[int] = []
    weights: list[Any] = []
    blobs: list[bytes] = []
    while matcher.is_active():
        if matcher._data is None:  # noqa: SLF001
            matcher._read_data()  # noqa: SLF001
        data = matcher._data  # noqa: SLF001
        blob = data[2]
        matcher._read_weights()  # noqa: SLF001
        if isinstance(blob, bytes):
            deltas.append(data[0])
            lengths.append(len(data[0]))
            weights.append(matcher._weights)  # noqa: SLF001
            blobs.append(blob)
        else:  # blocks written by plain Whoosh: one value per posting
            ids = np.cumsum(np.asarray(data[0], dtype=np.int64)) + offset
            matcher._read_values()  # noqa: SLF001
            block_values = matcher._values  # noqa: SLF001
            for i in np.flatnonzero(_in_sorted(wanted, ids)).tolist():
                positions = np.frombuffer(block_values[i][4:], dtype=np.uint32)
                parts.append(np.uint64(ids[i]) << shift | positions.astype(np.uint64))
        matcher._next_block()  # noqa: SLF001
    if not deltas:
        return
    # Each block's ids are deltas from 0: a running sum, less the sum before the block.
    running = np.cumsum(np.concatenate([np.asarray(d, dtype=np.int64) for d in deltas]))
    sizes = np.asarray(lengths)
    before = np.concatenate(([0], running[np.cumsum(sizes)[:-1] - 1]))
    ids = running - np.repeat(before, sizes) + offset
    tfs = np.concatenate([np.asarray(w, dtype=np.float64) for w in weights]).astype(np.int64)
    values = np.frombuffer(b"".join(blobs), dtype=np.uint32)
    if len(values) != len(ids) + int(tfs.sum()):
        raise ValueError(f"posting blocks of an unexpected layout ({len(values)} values)")
    selected = _in_sorted(wanted, ids)
    if not selected.any():
        return
    ends = np.cumsum(tfs)
    headers = np.arange(len(ids)) + ends - tfs  # record i: its count, then its tf positions
    is_position = np.ones(len(values), dtype=bool)
    is_position[headers] = False
    keep = np.repeat(selected, tfs)
    docs = np.repeat(ids, tfs)[keep].astype(np.uint64)
    parts.append(docs << shift | values[is_position][keep].astype(np.uint64))


def _in_sorted(haystack: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Which of ``values`` are in ``haystack`` (ascending, not empty), as a boolean array: one
    binary search each (``np.isin`` costs more on these sizes)."""
    found_at = np.minimum(np.searchsorted(haystack, values), haystack.size - 1)
    return haystack[found_at] == values


def _sorted_intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The values of ``a`` also in ``b`` (both ascending, without repeats): a binary search of
    each in the longer one, where ``np.intersect1d`` would sort both together again."""
    if a.size > b.size:
        a, b = b, a
    if not a.size:
        return a
    return a[_in_sorted(b, a)]


def _add(into: Scores, ids: list[int], scores: list[float]) -> None:
    if not into:
        into.update(zip(ids, scores, strict=True))
        return
    get = into.get
    for d, s in zip(ids, scores, strict=True):
        into[d] = get(d, 0.0) + s


def _intersect(a: Scores, b: Scores) -> Scores:
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    return {d: s + large[d] for d, s in small.items() if d in large}


class Evaluator:
    """Evaluates a :class:`ParsedQuery` on a :class:`Snapshot`."""

    def __init__(
        self,
        snapshot: Snapshot,
        *,
        allow_status: bool,
        within: frozenset[int] | None = None,
    ) -> None:
        self.snap = snapshot
        self.allow_status = allow_status
        # Documents the caller can use at all (the visible ones): nothing outside is scored,
        # counted in the scoring statistics or offered as a prefix or stem expansion.
        self.within = within
        self.scope = snapshot.scope(within) if within is not None else None
        # While set, clauses only score documents in it (the matches of the groups so far).
        self.restrict: Set[int] | None = None
        # (field, word) -> postings cut down to the candidates found so far, kept by the
        # candidate pass so scoring does not test every posting of a common word again.
        self.narrowed: dict[tuple[str, str], tuple[list[int], list[float], int]] = {}

    def evaluate(self, parsed: ParsedQuery) -> Scores | None:
        """Matching docnums with scores; None when nothing usable was typed.

        ANDed groups are evaluated rarest first; each later group only scores the documents
        still in the running, which keeps "rare word + very common word" close to the cost of
        the rare word alone.
        """
        groups = [
            clauses for group in parsed.groups if (clauses := [c for c in group if self._usable(c)])
        ]
        excluded = [c for c in parsed.excluded if self._usable(c)]
        if not groups and not excluded:
            return None
        groups.sort(key=lambda clauses: sum(self._estimate(c) for c in clauses))
        candidates = self._candidates(groups)
        start = candidates if candidates is not None else self.within
        result: Scores | None = None
        for clauses in groups:
            self.restrict = set(result) if result is not None else start
            scores: Scores = {}
            for clause in clauses:
                _add(scores, *_split(self.clause(clause)))
            result = scores if result is None else _intersect(result, scores)
            if not result:
                break
        if result is None:
            everything = self.within or range(len(self.snap.columns.status))
            result = dict.fromkeys(everything, 0.0)
        for clause in excluded:
            if not result:
                break
            self.restrict = set(result)
            drop = self.clause(clause).keys()
            result = {d: s for d, s in result.items() if d not in drop}
        self.restrict = None
        return result

    def _estimate(self, clause: Clause) -> int:
        """Rough number of postings a clause reads, to order ANDed groups."""
        if clause.kind == "prefix":
            return 1 << 40
        if clause.field in ("language", "decade", "status"):
            return 1 << 30
        counts = [self.snap.doc_frequency("body", t) for t in clause.tokens]
        return min(counts) if len(counts) > 1 else counts[0]

    def _usable(self, clause: Clause) -> bool:
        return clause.field != "status" or self.allow_status

    def clause(self, clause: Clause) -> Scores:
        snap = self.snap
        if clause.field in ("language", "decade", "status"):
            value = clause.text
            if clause.field == "language":
                value = primary_language(value)
            elif clause.field == "decade":
                value = normalise_decade(value)
            docs = snap.term_set("facet", facet_term(clause.field, value))
            if self.restrict is not None:
                docs = docs & self.restrict
            return dict.fromkeys(docs, 0.0)
        fields = CLAUSE_FIELDS.get(clause.field, CLAUSE_FIELDS[None])
        scores: Scores = {}
        if clause.kind == "prefix":
            for fieldname in fields:
                boost = FIELD_BOOSTS.get(fieldname, 1.0) * 0.5
                for word in snap.terms_with_prefix(fieldname, clause.tokens[0], self.within):
                    snap.term_scores(
                        fieldname, word, boost, scores, self.restrict, scope=self.scope
                    )
            return scores
        if len(clause.tokens) > 1:
            for fieldname in fields:
                self._phrase(fieldname, clause.tokens, FIELD_BOOSTS.get(fieldname, 1.0), scores)
            return scores
        token = clause.tokens[0]
        for fieldname in fields:
            boost = FIELD_BOOSTS.get(fieldname, 1.0)
            snap.term_scores(
                fieldname,
                token,
                boost,
                scores,
                self.restrict,
                narrowed=self.narrowed.get((fieldname, token)),
                scope=self.scope,
            )
        if clause.kind == "word" and "body" in fields:
            self._stemmed(token, scores)
        return scores

    def _stemmed(self, token: str, scores: Scores) -> None:
        """Words sharing the token's stem, counted only in stories of the stemmer's language.

        A word reached through several languages' stemmers is read once.
        """
        snap = self.snap
        languages_of: dict[str, list[str]] = {}
        for language, word in snap.stem_expansions(token, self.within):
            languages_of.setdefault(word, []).append(language)
        for word, languages in languages_of.items():
            keep: frozenset[int] | None = snap.language_set(languages)
            if keep is not None and len(keep) >= len(snap.columns.status):
                keep = None  # every story is in one of these languages: nothing to filter
            # Restricted before scoring: only the variant's postings in the running (and in
            # the stemmer's language) are scored, never the whole list of a common word.
            snap.term_scores(
                "body",
                word,
                STEM_BOOST,
                scores,
                self.restrict,
                also=keep,
                narrowed=self.narrowed.get(("body", word)),
                scope=self.scope,
            )

    def _word_docs(self, clause: Clause, among: Set[int] | None = None) -> set[int] | None:
        """Documents a single-word clause matches (exact word or a stem variant), unscored;
        with ``among``, only those in it (membership tests instead of building a large set).

        None for the clauses this cannot tell cheaply (phrases, prefixes, facet fields).
        """
        if self._word_docs_unknown(clause):
            return None
        snap = self.snap
        fields = CLAUSE_FIELDS.get(clause.field, CLAUSE_FIELDS[None])
        token = clause.tokens[0]
        docs: set[int] = set()
        for fieldname in fields:
            docs.update(self._narrow(fieldname, token, among))
        if "body" in fields:
            languages_of: dict[str, list[str]] = {}
            for language, word in snap.stem_expansions(token, self.within):
                languages_of.setdefault(word, []).append(language)
            for word, languages in languages_of.items():
                found = self._narrow("body", word, among)
                if not found:
                    continue
                keep = snap.language_set(languages)
                if len(keep) < len(snap.columns.status):
                    found = filter(keep.__contains__, found)
                docs.update(found)
        return docs

    def _narrow(self, fieldname: str, token: str, among: Set[int] | None) -> Sequence[int]:
        """The term's docnums, only those in ``among`` when given (then remembered, with their
        frequencies, for scoring: ``among`` holds every document scoring will look at)."""
        ids, tfs = self.snap.postings(fieldname, token)
        if among is None or not ids:
            return ids
        mask = list(map(among.__contains__, ids))
        kept = list(compress(ids, mask))
        self.narrowed[(fieldname, token)] = (kept, list(compress(tfs, mask)), len(ids))
        return kept

    @staticmethod
    def _word_docs_unknown(clause: Clause) -> bool:
        return (
            clause.kind != "word"
            or len(clause.tokens) != 1
            or clause.field in ("language", "decade", "status")
        )

    def _candidates(self, groups: list[list[Clause]]) -> Set[int] | None:
        """Documents that can satisfy every ANDed group, from docnums alone (no scoring).

        With two or more groups of plain words, their doc sets are intersected first (set
        operations in C over cached posting lists); scoring then only touches the survivors, so
        "toutes" (which reaches tout and toute, in half the stories) costs membership tests, not
        tens of thousands of BM25 computations that the other word would discard anyway.
        """
        if len(groups) < 2:
            return None
        found: Set[int] | None = None
        for clauses in groups:
            if any(self._word_docs_unknown(c) for c in clauses):
                continue  # this group only narrows the result later, while being scored
            union: set[int] | None = None
            for clause in clauses:
                # After the first (rarest) group, only the survivors are looked up.
                docs = self._word_docs(clause, among=found) or set()
                union = docs if union is None else union | docs
            found = union
            if not found:
                break
        if found is not None and self.within is not None:
            found = found & self.within
        return found

    def _phrase(self, fieldname: str, tokens: list[str], boost: float, into: Scores) -> None:
        """Documents with the tokens at consecutive positions, scored as the sum of the terms.

        Candidates (documents with every token) come from the ids alone; positions are then
        read only for candidates, and compared as sets of integers.
        """
        snap = self.snap
        lists = []
        for token in tokens:
            ids, tfs = snap.postings(fieldname, token)
            if not ids:
                return
            lists.append((ids, tfs))
        candidates = set(min(lists, key=lambda item: len(item[0]))[0])
        if self.restrict is not None:
            candidates &= self.restrict
        for ids, _ in lists:
            candidates.intersection_update(ids)
            if not candidates:
                return
        # Each token's positions in the candidates as ``doc << 32 | position``, moved back by
        # the token's place in the phrase: a phrase starts where every token's keys meet.
        wanted = np.fromiter(sorted(candidates), dtype=np.int64, count=len(candidates))
        starts: np.ndarray | None = None
        for i, token in enumerate(tokens):
            keys = snap.position_keys(fieldname, token, wanted)
            if i:
                keys = keys[(keys & np.uint64(0xFFFFFFFF)) >= i] - np.uint64(i)
            starts = keys if starts is None else _sorted_intersection(starts, keys)
            if not starts.size:
                return
        assert starts is not None
        docs = starts >> np.uint64(32)  # ascending: one entry per distinct document kept
        matched = set(docs[np.concatenate(([True], docs[1:] != docs[:-1]))].tolist())
        scope = self.scope
        for token, (ids, tfs) in zip(tokens, lists, strict=True):
            mask = list(map(matched.__contains__, ids))
            kids = list(compress(ids, mask))
            kept_tfs = list(compress(tfs, mask))
            df = scope.df(fieldname, token, ids) if scope is not None else len(ids)
            _add(into, kids, snap.bm25(fieldname, kids, kept_tfs, boost, df, scope))


def _split(scores: Scores) -> tuple[list[int], list[float]]:
    return list(scores.keys()), list(scores.values())


def normalise_decade(value: str) -> str:
    """ "1960s", "60", "1965" → "1960"."""
    digits = "".join(ch for ch in value if ch.isdigit())
    if not digits:
        return value
    year = int(digits)
    if year < 100:
        year += 1900
    return str(year - year % 10)
