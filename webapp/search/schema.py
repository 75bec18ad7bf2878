"""The Whoosh schema of the story index and the mapping from a story to its fields.

What each story becomes (``document_fields``): ``id`` (stored, unique), the analysed tokens of
``title``, ``body`` and ``places`` (frequencies and positions, positions as raw uint32 arrays:
:class:`CompactPositions`), of ``themes``, ``organisation`` and ``collections`` (same), exact
``facet`` terms ``<facet>\x1f<value>`` (presence only) including ``status``, one ``facets``
column per document (compact JSON: facet values, status, period, id) read in bulk for counts,
and a stored ``data`` dict (title, places, language, period, the first :data:`EXCERPT_CHARS` of
the body for snippets). Text is analysed with :mod:`webapp.search.analysis` and handed to Whoosh
already tokenised, so Whoosh's analyzers never run at index time. Our field classes pickle into
the table of contents by stable names (``webapp.search.stored_names``). This module must never
open an index or decide visibility: it only describes what is stored.
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from collections.abc import Iterator
from typing import Any

from whoosh import columns, fields, formats
from whoosh.system import _INT_SIZE, pack_uint

from webapp.search.analysis import fold, primary_language
from webapp.search.analysis import tokens as analyse
from webapp.search.contract import StoryDocument
from webapp.search.stored_names import StoredByName

#: Bump when the schema or the analysis changes: an index of another version must be rebuilt.
SCHEMA_VERSION = 2

#: Separator between a facet's name and its value in the ``facet`` field's terms.
FACET_SEP = "\x1f"

#: Characters of the body kept for snippets: highlighting works on this bounded excerpt only.
EXCERPT_CHARS = 3000

#: The ``facet`` field's name for the languages of a story's transcripts other than its own:
#: not a facet people filter on, only where stemming in that language may match.
SAID_LANGUAGE = "said_language"

#: Characters of recorded speech (transcript lines, index points) kept with their moments for
#: "said at 12:05" links; all of it is searchable, only this much can be pointed to.
MOMENT_CHARS = 200_000


class CompactPositions(StoredByName, formats.Positions):
    """Positions stored as a raw uint32 array instead of a pickled list: same information,
    several times cheaper to encode for the tens of millions of postings of a full reindex."""

    stored_name = "passages.compact-positions"

    def encode(self, poslist: list[int]) -> bytes:
        return pack_uint(len(poslist)) + array("I", poslist).tobytes()

    def decode_positions(self, valuestring: bytes) -> list[int]:
        positions = array("I")
        positions.frombytes(valuestring[_INT_SIZE:])
        return positions.tolist()


class TokenField(StoredByName, fields.FieldType):
    """A field fed with a list of already-analysed tokens (position = list index).

    Building Whoosh's posting values directly from the token list skips its per-token ``Token``
    objects, which dominate indexing time on long bodies.
    """

    stored_name = "passages.token-field"

    indexed = True
    scorable = True
    stored = False
    unique = False

    def __init__(self, positions: bool = True, field_boost: float = 1.0) -> None:
        self.positions = positions
        self.format = (
            CompactPositions(field_boost=field_boost)
            if positions
            else formats.Frequency(field_boost=field_boost)
        )
        self.column_type = None
        self.vector = None
        self.analyzer = None

    def index(self, value: list[str], **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        if self.positions:
            poses: dict[str, list[int]] = {}
            for pos, token in enumerate(value):
                poslist = poses.get(token)
                if poslist is None:
                    poses[token] = [pos]
                else:
                    poslist.append(pos)
            encode = self.format.encode
            boost = self.format.field_boost
            for token, poslist in poses.items():
                yield token.encode("utf-8"), len(poslist), len(poslist) * boost, encode(poslist)
        else:
            boost = self.format.field_boost
            for token, freq in Counter(value).items():
                yield token.encode("utf-8"), freq, freq * boost, pack_uint(freq)

    def self_parsing(self) -> bool:
        return True

    def has_morph(self) -> bool:
        return False

    def separate_spelling(self) -> bool:
        return False

    def sortable_terms(self, ixreader: Any, fieldname: str) -> Iterator[bytes]:
        return iter(())


class TermsField(TokenField):
    """Exact, unscored terms (facet values, status): presence only."""

    stored_name = "passages.terms-field"

    scorable = False

    def __init__(self) -> None:
        super().__init__(positions=False)
        self.format = formats.Existence()

    def index(self, value: list[str], **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        for term in set(value):
            yield term.encode("utf-8"), 1, 1.0, b""


def build_schema() -> fields.Schema:
    """The schema of version :data:`SCHEMA_VERSION`."""
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        title=TokenField(),
        body=TokenField(),
        places=TokenField(),
        themes=TokenField(),
        organisation=TokenField(),
        collections=TokenField(),
        facet=TermsField(),
        facets=fields.COLUMN(columns.VarBytesColumn()),
        data=fields.STORED(),
    )


def facet_term(name: str, value: str) -> str:
    """The ``facet`` field term for one facet value (exact value, only case-normalised)."""
    return f"{name}{FACET_SEP}{normalise_facet_value(name, value)}"


def normalise_facet_value(name: str, value: str) -> str:
    """How a facet value is compared: trimmed; language tags lower-cased.

    Status is compared exactly: visibility must not depend on a lenient reading of it.
    """
    if name == "status":
        return str(value)
    value = " ".join(str(value).split())
    if name == "language":
        return value.lower()
    return value


def decades(start: int | None, end: int | None) -> list[str]:
    """Every decade a period touches: 1955–1972 → ["1950", "1960", "1970"]."""
    if start is None and end is None:
        return []
    first = start if start is not None else end
    last = end if end is not None else start
    assert first is not None and last is not None
    if last < first:
        first, last = last, first
    first_decade, last_decade = first - first % 10, last - last % 10
    if last_decade - first_decade > 300:  # nonsense periods must not bloat the index
        last_decade = first_decade + 300
    return [str(d) for d in range(first_decade, last_decade + 1, 10)]


def facet_values(doc: StoryDocument) -> dict[str, list[str]]:
    """The facet values of a story, de-duplicated, in a stable order."""

    def unique(values: list[str], name: str) -> list[str]:
        seen: dict[str, None] = {}
        for value in values:
            if value and str(value).strip():
                seen.setdefault(normalise_facet_value(name, value), None)
        return list(seen)

    return {
        "kind": unique([doc.kind], "kind"),
        "place": unique(list(doc.places), "place"),
        "decade": decades(doc.period_start, doc.period_end),
        "theme": unique(list(doc.themes), "theme"),
        "language": unique([doc.language], "language"),
        "organisation": unique([doc.organisation] if doc.organisation else [], "organisation"),
        "collection": unique(list(doc.collections), "collection"),
    }


def document_fields(doc: StoryDocument) -> dict[str, Any]:
    """The keyword arguments for ``writer.add_document`` of one story."""
    language = primary_language(doc.language)
    title_tokens = analyse(doc.title or "")
    body_tokens = analyse(doc.body or "")
    # What is said in the recordings is searched as the body is (same folded tokens); a
    # transcript in another language than the story's marks the story with that language
    # (``said_language``), so the query's stems of that language reach its words.
    moments = []
    kept = 0
    said_languages: set[str] = set()
    for media_id, start, text, *rest in doc.moments:
        said = primary_language(rest[0]) if rest else ""
        body_tokens.extend(analyse(text))
        if said and said != language:
            said_languages.add(said)
        if kept < MOMENT_CHARS:
            moments.append((int(media_id), float(start), text, said))
            kept += len(text)
    places_tokens: list[str] = []
    for place in doc.places:
        # A gap between places so that a phrase never spans two of them.
        places_tokens.extend(analyse(place))
        places_tokens.append("\x00")
    facets = facet_values(doc)
    status = normalise_facet_value("status", doc.status or "")
    terms = [facet_term(name, value) for name, values in facets.items() for value in values]
    terms.append(facet_term("status", status))
    if language:
        terms.append(facet_term("language", language))
    terms.extend(facet_term(SAID_LANGUAGE, said) for said in sorted(said_languages))
    column = {
        **facets,
        "status": status,
        "period_start": doc.period_start,
        "period_end": doc.period_end,
        "id": doc.id,
    }
    data = {
        "title": doc.title,
        "places": list(doc.places),
        "language": doc.language,
        "period_start": doc.period_start,
        "period_end": doc.period_end,
        "excerpt": (doc.body or "")[:EXCERPT_CHARS],
    }
    if moments:
        data["moments"] = moments
    return {
        "id": str(doc.id),
        "title": title_tokens,
        "body": body_tokens,
        "places": places_tokens,
        "themes": [t for theme in doc.themes for t in analyse(theme)],
        "organisation": analyse(doc.organisation or ""),
        "collections": [t for c in doc.collections for t in analyse(c)],
        "facet": terms,
        "facets": json.dumps(column, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
        "data": data,
    }


__all__ = [
    "EXCERPT_CHARS",
    "FACET_SEP",
    "SAID_LANGUAGE",
    "SCHEMA_VERSION",
    "build_schema",
    "decades",
    "document_fields",
    "facet_term",
    "fold",
]
