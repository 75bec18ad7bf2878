"""Bulk evaluation of a parsed query over the index's postings: matching documents and scores.

Whoosh's matchers walk postings one document at a time in Python, which costs milliseconds per
thousand matches. Here each posting list is read block by block (Whoosh's own on-disk blocks)
into plain lists, BM25 is computed in one comprehension per posting list, and AND / OR / NOT are
dictionary and set operations that run in C. The result is every matching document with its
score, from which the engine takes the total, the facet counts and the top of the page.

This module reads a :class:`Snapshot` (one consistent view of the index); it must never write,
and it never decides visibility: the engine intersects with the visible set afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.reading import TermNotFound

from webapp.search.analysis import STEMMED_LANGUAGES, is_unspaced, primary_language, stem
from webapp.search.facets import ColumnData
from webapp.search.query import Clause, ParsedQuery
from webapp.search.schema import facet_term

#: BM25 parameters (the usual values).
K1 = 1.2
B = 0.75

#: Ranking weights: a match in the title or a place counts more than one in the body.
FIELD_BOOSTS: dict[str, float] = {"title": 3.0, "places": 2.5, "body": 1.0}
#: Weight of a word that only matches through its stem ("usines" for "usine").
STEM_BOOST = 0.6
#: A prefix expanding to more words than this keeps only this many (alphabetical).
MAX_PREFIX_TERMS = 400

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
    expansions: dict[tuple[str, str], list[tuple[str, str]]] = field(default_factory=dict)

    # ------------------------------------------------------------ postings

    def postings(
        self, fieldname: str, token: str, values: list[bytes] | None = None
    ) -> tuple[list[int], list[float]]:
        """Global docnums and term frequencies of one term (deleted documents included).

        With ``values``, the raw posting values (positions) are appended to it as well, from the
        same block reads.
        """
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

    def term_set(self, fieldname: str, token: str) -> frozenset[int]:
        """Documents containing a term, cached for the snapshot (filters, visibility)."""
        key = f"{fieldname}\x00{token}"
        cached = self.term_sets.get(key)
        if cached is None:
            cached = self.term_sets[key] = frozenset(self.postings(fieldname, token)[0])
        return cached

    def terms_with_prefix(self, fieldname: str, prefix: str) -> list[str]:
        words: set[str] = set()
        for leaf in self.leaves:
            for btext in leaf.reader.expand_prefix(fieldname, prefix):
                words.add(btext.decode("utf-8") if isinstance(btext, bytes) else btext)
                if len(words) >= MAX_PREFIX_TERMS * 2:
                    break
        return sorted(words)[:MAX_PREFIX_TERMS]

    def doc_frequency(self, fieldname: str, token: str) -> int:
        btext = token.encode("utf-8")
        return sum(leaf.reader.doc_frequency(fieldname, btext) for leaf in self.leaves)

    def stem_expansions(self, token: str) -> list[tuple[str, str]]:
        """``(language, word)`` pairs: indexed words that share ``token``'s stem in a language.

        Stemming happens at query time against the index's vocabulary, so the index holds each
        word once; a word found this way only counts for stories in that language.
        """
        key = ("body", token)
        cached = self.expansions.get(key)
        if cached is not None:
            return cached
        found: list[tuple[str, str]] = []
        if not is_unspaced(token) and not token.isdigit():
            for language in STEMMED_LANGUAGES:
                stemmed = stem(language, token)
                if not stemmed or len(stemmed) < 3:
                    continue
                prefix = stemmed[: max(3, len(stemmed) - 1)]
                for word in self.terms_with_prefix("body", prefix):
                    if word != token and stem(language, word) == stemmed:
                        found.append((language, word))
        self.expansions[key] = found
        return found

    # ------------------------------------------------------------ scoring

    def bm25(self, fieldname: str, ids: list[int], tfs: list[float], boost: float) -> list[float]:
        df = len(ids)
        if not df:
            return []
        n = max(self.doc_count, df)
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5)) * boost * (K1 + 1)
        lengths = self.lengths.get(fieldname)
        k = K1 * (1 - B)
        if not lengths:
            return [idf * tf / (tf + K1) for tf in tfs]
        kb = K1 * B / max(self.avg_length.get(fieldname, 1.0), 1.0)
        return [idf * tf / (tf + k + kb * lengths[d]) for d, tf in zip(ids, tfs, strict=True)]

    def term_scores(self, fieldname: str, token: str, boost: float, into: Scores) -> None:
        ids, tfs = self.postings(fieldname, token)
        _add(into, ids, self.bm25(fieldname, ids, tfs, boost))


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
            if offset:
                ids.extend(d + offset for d in accumulate(block_ids))
            else:
                ids.extend(accumulate(block_ids))
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

    def __init__(self, snapshot: Snapshot, *, allow_status: bool) -> None:
        self.snap = snapshot
        self.allow_status = allow_status

    def evaluate(self, parsed: ParsedQuery) -> Scores | None:
        """Matching docnums with scores; None when nothing usable was typed."""
        groups = []
        for group in parsed.groups:
            clauses = [c for c in group if self._usable(c)]
            if not clauses:
                continue
            scores: Scores = {}
            for clause in clauses:
                _add(scores, *_split(self.clause(clause)))
            groups.append(scores)
        excluded = [c for c in parsed.excluded if self._usable(c)]
        if not groups and not excluded:
            return None
        if groups:
            groups.sort(key=len)
            result = groups[0]
            for other in groups[1:]:
                result = _intersect(result, other)
                if not result:
                    break
        else:
            result = dict.fromkeys(range(len(self.snap.columns.status)), 0.0)
        for clause in excluded:
            if not result:
                break
            drop = self.clause(clause).keys()
            result = {d: s for d, s in result.items() if d not in drop}
        return result

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
            return dict.fromkeys(snap.term_set("facet", facet_term(clause.field, value)), 0.0)
        fields = CLAUSE_FIELDS.get(clause.field, CLAUSE_FIELDS[None])
        scores: Scores = {}
        if clause.kind == "prefix":
            for fieldname in fields:
                boost = FIELD_BOOSTS.get(fieldname, 1.0) * 0.5
                for word in snap.terms_with_prefix(fieldname, clause.tokens[0]):
                    snap.term_scores(fieldname, word, boost, scores)
            return scores
        if len(clause.tokens) > 1:
            for fieldname in fields:
                self._phrase(fieldname, clause.tokens, FIELD_BOOSTS.get(fieldname, 1.0), scores)
            return scores
        token = clause.tokens[0]
        for fieldname in fields:
            snap.term_scores(fieldname, token, FIELD_BOOSTS.get(fieldname, 1.0), scores)
        if clause.kind == "word" and "body" in fields:
            self._stemmed(token, scores)
        return scores

    def _stemmed(self, token: str, scores: Scores) -> None:
        """Words sharing the token's stem, counted only in stories of the stemmer's language."""
        snap = self.snap
        by_language: dict[str, Scores] = {}
        for language, word in snap.stem_expansions(token):
            snap.term_scores("body", word, STEM_BOOST, by_language.setdefault(language, {}))
        for language, found in by_language.items():
            in_language = snap.term_set("facet", facet_term("language", language))
            _add(
                scores,
                *_split({d: s for d, s in found.items() if d in in_language}),
            )

    def _phrase(self, fieldname: str, tokens: list[str], boost: float, into: Scores) -> None:
        """Documents with the tokens at consecutive positions, scored as the sum of the terms."""
        snap = self.snap
        lists = []
        for token in tokens:
            values: list[bytes] = []
            ids, tfs = snap.postings(fieldname, token, values)
            if not ids:
                return
            lists.append((ids, tfs, values))
        lists_by_size = sorted(lists, key=lambda item: len(item[0]))
        candidates = set(lists_by_size[0][0])
        for ids, _, _ in lists_by_size[1:]:
            candidates.intersection_update(ids)
            if not candidates:
                return
        decode = snap.leaves[0].reader.schema[fieldname].format.decode_positions
        per_token = [
            {d: v for d, v in zip(ids, values, strict=True) if d in candidates}
            for ids, _, values in lists
        ]
        matched: set[int] = set()
        for d in candidates:
            starts = set(decode(per_token[0][d]))
            for i, found in enumerate(per_token[1:], start=1):
                starts.intersection_update([p - i for p in decode(found[d])])
                if not starts:
                    break
            if starts:
                matched.add(d)
        if not matched:
            return
        for ids, tfs, _ in lists:
            keep = [(d, tf) for d, tf in zip(ids, tfs, strict=True) if d in matched]
            if keep:
                kids, ktfs = zip(*keep, strict=True)
                _add(into, list(kids), snap.bm25(fieldname, list(kids), list(ktfs), boost))


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
