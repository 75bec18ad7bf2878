"""Per-document facet data read in bulk, and facet counts over a whole result set.

Each segment's ``facets`` column is decoded once into plain Python lists (one entry per document)
and cached for the life of the segment, which never changes once written. Counting a facet over a
result set is then one C-level pass (``map`` + ``Counter``) over those lists instead of a Python
loop per hit, which is what makes faceting 100,000 stories affordable. Nothing here may touch
visibility rules or open an index: it reads what the engine hands it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import methodcaller
from typing import Any

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

    def column(self, name: str, column: list[tuple[str, ...]]) -> list[int]:
        """Codes of a column: each new combination numbered once, then everything mapped in C
        (a segment of 100,000 stories holds tens of thousands of distinct place combinations).
        Called by the engine with its segment cache lock held (the numbering is not locked)."""
        codes, combos = self.codes, self.combos
        distinct = set(column)
        for combo in distinct.difference(codes):
            codes[combo] = len(combos)
            combos.append(combo)
        self.seen[name].update(map(codes.__getitem__, distinct))
        return list(map(codes.__getitem__, column))


@dataclass
class ColumnData:
    """Facet values, status, period and story id for every document of a reader, by docnum."""

    facets: dict[str, list[tuple[str, ...]]]
    status: list[str]
    period_start: list[int | None]
    story_id: list[int]
    # Per facet, the combination code of each document (see ``MAX_CODED_COMBOS``).
    codes: dict[str, list[int]]
    # The numbering those codes come from.
    registry: ComboCodes

    @classmethod
    def from_column(cls, raw_values: Iterable[bytes], registry: ComboCodes) -> ColumnData:
        """Decode one segment's ``facets`` column (JSON per document)."""
        intern: dict[Any, Any] = {}

        def shared(value: Any) -> Any:
            # Interning makes equal tuples one object: less memory, faster Counter hashing.
            return intern.setdefault(value, value)

        # One C-level decode of the whole column (a JSON array of the per-document objects);
        # a document without a value decodes as an empty object.
        values = [raw or b"{}" for raw in raw_values]
        records = json.loads(b"[" + b",".join(values) + b"]") if values else []
        facets: dict[str, list[tuple[str, ...]]] = {}
        for name in FACET_NAMES:
            facets[name] = [
                shared(tuple(v)) if v else _EMPTY for v in map(methodcaller("get", name), records)
            ]
        status = list(map(shared, map(methodcaller("get", "status", ""), records)))
        period = list(map(methodcaller("get", "period_start"), records))
        story_id = list(map(methodcaller("get", "id", -1), records))
        return cls.from_lists(facets, status, period, story_id, registry)

    @classmethod
    def from_lists(
        cls,
        facets: dict[str, list[tuple[str, ...]]],
        status: list[str],
        period_start: list[int | None],
        story_id: list[int],
        registry: ComboCodes,
    ) -> ColumnData:
        """Columns already decoded (:meth:`from_column`, or a segment's decoded file), numbered
        with ``registry``: codes belong to a reader's numbering, so they are never stored."""
        codes = {name: registry.column(name, column) for name, column in facets.items()}
        return cls(facets, status, period_start, story_id, codes, registry)

    @classmethod
    def concatenate(cls, parts: Sequence[ColumnData]) -> ColumnData:
        """Join segment data in docnum order (the order of the reader's segments)."""
        if len(parts) == 1:
            return parts[0]
        registry = parts[0].registry
        assert all(p.registry is registry for p in parts), "one numbering per snapshot"
        return cls(
            {
                name: list(chain.from_iterable(p.facets[name] for p in parts))
                for name in FACET_NAMES
            },
            list(chain.from_iterable(p.status for p in parts)),
            list(chain.from_iterable(p.period_start for p in parts)),
            list(chain.from_iterable(p.story_id for p in parts)),
            {name: list(chain.from_iterable(p.codes[name] for p in parts)) for name in FACET_NAMES},
            registry,
        )

    def count(
        self, name: str, docnums: Sequence[int], limit: int = FACET_LIMIT
    ) -> list[FacetValue]:
        """Counts of facet ``name`` over ``docnums``: most frequent first, then by value."""
        if len(self.registry.seen[name]) < MAX_CODED_COMBOS:
            # One count per document on a small int, then a few thousand additions at most.
            per_combo = Counter(map(self.codes[name].__getitem__, docnums))
            counts: Counter[str] = Counter()
            combos = self.registry.combos
            for code, n in per_combo.items():
                for value in combos[code]:
                    counts[value] += n
        else:
            column = self.facets[name]
            counts = Counter(chain.from_iterable(map(column.__getitem__, docnums)))
        ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return [FacetValue(value, count) for value, count in ordered[:limit]]
