"""Per-document facet data read in bulk, and facet counts over a whole result set.

Each segment's ``facets`` column is decoded once into plain Python lists (one entry per document)
and cached for the life of the segment, which never changes once written. Counting a facet over a
result set is then one C-level pass (``map`` + ``Counter``) over those lists instead of a Python
loop per hit, which is what makes faceting 100,000 stories affordable. Nothing here may touch
visibility rules or open an index: it reads what the engine hands it.
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import methodcaller
from typing import Any

import numpy as np

from webapp.search.contract import FACET_NAMES, FacetValue

#: Most values returned per facet (the page shows the top ones; counts stay exact).
FACET_LIMIT = 50

_EMPTY: tuple[str, ...] = ()

#: Facets with fewer distinct value combinations than this are counted per combination code
#: (one small-int count per document, then spread over the values), the others value by value.
#: Decades, languages, organisations, themes and collections repeat a few hundred or thousand
#: combinations; places (1–3 of many towns) have tens of thousands and gain nothing.
MAX_CODED_COMBOS = 5_000

#: A numbering that has met this many distinct combinations is replaced by a fresh one (and
#: every segment decoded again with it): the registry is bounded, whatever the index holds.
MAX_REGISTRY_COMBOS = 200_000


class ComboCodes:
    """Numbering of facet value combinations shared by the segments of one index reader.

    Concatenated columns must use the same codes, so the numbering is shared by every segment
    decoded with it; it only grows, so its owner (the engine) replaces it once it :attr:`is_full`
    — never a process-wide registry that grows for the life of the process.
    """

    def __init__(self) -> None:
        self.codes: dict[tuple[str, ...], int] = {_EMPTY: 0}
        self.combos: list[tuple[str, ...]] = [_EMPTY]
        self.seen: dict[str, set[int]] = {name: {0} for name in FACET_NAMES}

    @property
    def is_full(self) -> bool:
        return len(self.combos) >= MAX_REGISTRY_COMBOS

    def counts_by_code(self, name: str) -> bool:
        """Whether facet ``name`` is still counted per combination (see ``MAX_CODED_COMBOS``)."""
        return len(self.seen[name]) < MAX_CODED_COMBOS

    def translation(self, name: str, combos: Sequence[tuple[str, ...]]) -> np.ndarray:
        """This numbering's code of each of a segment's combinations of facet ``name`` (new ones
        numbered here): hashing a segment's few hundred distinct combinations, not a tuple per
        document. Called by the engine with its segment cache lock held (not locked here)."""
        codes, known = self.combos, self.codes
        out = []
        for combo in combos:
            code = known.get(combo)
            if code is None:
                code = known[combo] = len(codes)
                codes.append(combo)
            out.append(code)
        self.seen[name].update(out)
        return np.array(out, dtype=np.int64)


@dataclass(frozen=True)
class CodedFacets:
    """One segment's facet values: per facet, its distinct combinations and each document's
    index into them. The form a decoded segment file keeps: compact arrays, and a new process
    numbers a segment's distinct combinations instead of hashing a tuple per document."""

    combos: dict[str, list[tuple[str, ...]]]
    codes: dict[str, array]

    @classmethod
    def from_values(cls, facets: dict[str, list[tuple[str, ...]]]) -> CodedFacets:
        combos: dict[str, list[tuple[str, ...]]] = {}
        codes: dict[str, array] = {}
        for name, column in facets.items():
            local: dict[tuple[str, ...], int] = {}
            number = local.setdefault
            codes[name] = array("i", [number(combo, len(local)) for combo in column])
            combos[name] = list(local)
        return cls(combos, codes)

    def indexes(self, name: str) -> np.ndarray:
        return np.frombuffer(self.codes[name], dtype=np.intc)

    def values(self, name: str) -> list[tuple[str, ...]]:
        """Each document's values of facet ``name``."""
        return list(map(self.combos[name].__getitem__, self.codes[name]))

    def is_whole(self, doc_count: int, names: Sequence[str] = FACET_NAMES) -> bool:
        """Every facet of ``names`` present with one valid index per document (a damaged file
        is not)."""
        if set(self.codes) != set(names) or set(self.combos) != set(names):
            return False
        for name in names:
            codes, combos = self.codes[name], self.combos[name]
            if not isinstance(codes, array) or codes.typecode != "i" or len(codes) != doc_count:
                return False
            # Combinations are tuples of text (a list would be unhashable when numbered).
            if not isinstance(combos, list) or not set(map(type, combos)) <= {tuple}:
                return False
            if not set(map(type, chain.from_iterable(combos))) <= {str}:
                return False
            found = self.indexes(name)
            if found.size and (found.min() < 0 or found.max() >= len(self.combos[name])):
                return False
        return True


@dataclass
class ColumnData:
    """Facet data, status, period and story id for every document of a reader, by docnum."""

    status: list[str]
    period_start: list[int | None]
    story_id: list[int]
    # Per facet counted by combination, the combination code of each document.
    codes: dict[str, list[int]]
    # The numbering those codes come from.
    registry: ComboCodes
    # Per facet, the values of each document: given for facets counted value by value (see
    # ``MAX_CODED_COMBOS``), made from the codes for the others if ever asked for.
    _values: dict[str, list[tuple[str, ...]]] = field(default_factory=dict, repr=False)

    @staticmethod
    def decode(
        raw_values: Iterable[bytes],
    ) -> tuple[CodedFacets, list[str], list[int | None], list[int]]:
        """Decode one segment's ``facets`` column (JSON per document): its coded facets, status,
        period start and story id per local docnum."""
        intern: dict[Any, Any] = {}

        def shared(value: Any) -> Any:
            # Interning makes equal values one object: less memory, and one pickled copy.
            return intern.setdefault(value, value)

        # One C-level decode of the whole column (a JSON array of the per-document objects);
        # a document without a value decodes as an empty object.
        values = [raw or b"{}" for raw in raw_values]
        records = json.loads(b"[" + b",".join(values) + b"]") if values else []
        facets: dict[str, list[tuple[str, ...]]] = {}
        for name in FACET_NAMES:
            facets[name] = [
                shared(tuple(map(shared, v))) if v else _EMPTY
                for v in map(methodcaller("get", name), records)
            ]
        status = list(map(shared, map(methodcaller("get", "status", ""), records)))
        period = list(map(methodcaller("get", "period_start"), records))
        story_id = list(map(methodcaller("get", "id", -1), records))
        return CodedFacets.from_values(facets), status, period, story_id

    @classmethod
    def from_column(cls, raw_values: Iterable[bytes], registry: ComboCodes) -> ColumnData:
        """Decode one segment's ``facets`` column, numbered with ``registry``."""
        return cls.from_coded(*cls.decode(raw_values), registry)

    @classmethod
    def from_coded(
        cls,
        coded: CodedFacets,
        status: list[str],
        period_start: list[int | None],
        story_id: list[int],
        registry: ComboCodes,
    ) -> ColumnData:
        """A segment's columns (:meth:`decode`, or its decoded file), numbered with ``registry``:
        codes belong to a reader's numbering, so they are never stored. A facet with too many
        combinations to count by code (places) is kept as values and never numbered."""
        codes: dict[str, list[int]] = {}
        values: dict[str, list[tuple[str, ...]]] = {}
        for name in coded.codes:
            if registry.counts_by_code(name):
                translate = registry.translation(name, coded.combos[name])
                codes[name] = translate[coded.indexes(name)].tolist()
            else:
                values[name] = coded.values(name)
        return cls(status, period_start, story_id, codes, registry, values)

    @classmethod
    def concatenate(cls, parts: Sequence[ColumnData]) -> ColumnData:
        """Join segment data in docnum order (the order of the reader's segments)."""
        if len(parts) == 1:
            return parts[0]
        registry = parts[0].registry
        assert all(p.registry is registry for p in parts), "one numbering per snapshot"
        codes: dict[str, list[int]] = {}
        values: dict[str, list[tuple[str, ...]]] = {}
        for name in FACET_NAMES:
            if all(name in p.codes for p in parts):
                codes[name] = list(chain.from_iterable(p.codes[name] for p in parts))
            else:
                values[name] = list(chain.from_iterable(p.values(name) for p in parts))
        return cls(
            list(chain.from_iterable(p.status for p in parts)),
            list(chain.from_iterable(p.period_start for p in parts)),
            list(chain.from_iterable(p.story_id for p in parts)),
            codes,
            registry,
            values,
        )

    def values(self, name: str) -> list[tuple[str, ...]]:
        """Each document's values of facet ``name``."""
        found = self._values.get(name)
        if found is None:
            combos = self.registry.combos
            found = self._values[name] = list(map(combos.__getitem__, self.codes[name]))
        return found

    def documents_with(self, name: str, wanted: Callable[[str], bool]) -> frozenset[int]:
        """Docnums having a value of facet ``name`` that ``wanted`` accepts (deleted included)."""
        if name in self.codes:
            combos = self.registry.combos
            # A copy (one C call): another thread may be numbering a new segment's values.
            accepted = [c for c in tuple(self.registry.seen[name]) if any(map(wanted, combos[c]))]
            if not accepted:
                return frozenset()
            codes = np.fromiter(self.codes[name], dtype=np.int64, count=len(self.codes[name]))
            return frozenset(np.flatnonzero(np.isin(codes, accepted)).tolist())
        return frozenset(
            docnum
            for docnum, values in enumerate(self.values(name))
            if values and any(map(wanted, values))
        )

    def count(
        self, name: str, docnums: Sequence[int], limit: int = FACET_LIMIT
    ) -> list[FacetValue]:
        """Counts of facet ``name`` over ``docnums``: most frequent first, then by value."""
        if name in self.codes:
            # One count per document on a small int, then a few thousand additions at most.
            per_combo = Counter(map(self.codes[name].__getitem__, docnums))
            counts: Counter[str] = Counter()
            combos = self.registry.combos
            for code, n in per_combo.items():
                for value in combos[code]:
                    counts[value] += n
        else:
            column = self.values(name)
            counts = Counter(chain.from_iterable(map(column.__getitem__, docnums)))
        ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return [FacetValue(value, count) for value, count in ordered[:limit]]
