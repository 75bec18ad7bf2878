"""Value objects that cross the boundary of the search layer.

These dataclasses are the whole vocabulary the rest of Passages uses to talk to search: the
worker builds a :class:`StoryDocument` from the database, the web app sends a
:class:`SearchRequest` and renders a :class:`SearchPage`. They must never import Whoosh, Flask or
the database models, so that another engine could stand behind the same contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

#: The only status the public may ever see.
PUBLISHED = "published"

#: Facet names, in the order a search page shows them.
FACET_NAMES: tuple[str, ...] = (
    "kind",
    "place",
    "decade",
    "theme",
    "language",
    "organisation",
    "collection",
)

#: Filter keys a request may carry: the facets plus ``status`` (archivists only).
FILTER_KEYS: tuple[str, ...] = FACET_NAMES + ("status",)


class IndexBusy(RuntimeError):
    """The index writer lock could not be taken within the bounded wait.

    Raised instead of waiting forever so that a job can be retried later by its queue.
    """


class SearchUnavailable(RuntimeError):
    """A search could not be answered (the engine failed while reading the index).

    Raised, never dressed as an empty result: callers answer 503 and say search is unavailable.
    """


class IndexRebuilding(SearchUnavailable):
    """The served index cannot be opened, or was written by another format or schema version.

    The search worker rebuilds it from the database by itself; until the new generation is
    swapped in, searches raise this so that pages and the API can say "being rebuilt".
    """


@dataclass(frozen=True)
class StoryDocument:
    """Everything search needs to know about one story, loaded fresh from the database."""

    id: int
    title: str
    body: str
    language: str
    places: list[str] = field(default_factory=list)
    period_start: int | None = None
    period_end: int | None = None
    themes: list[str] = field(default_factory=list)
    organisation: str | None = None
    collections: list[str] = field(default_factory=list)
    status: str = "submitted"
    updated_at: datetime | None = None
    #: ``story`` or ``document`` (an archive document).
    kind: str = "story"
    #: What is said in the story's recordings: ``(media id, start in seconds, text, language)``
    #: for each transcript line and index point, searched with the body and linked to its
    #: moment. The language is the transcript's own (empty: the story's), so its words are
    #: matched with the stems of the language they are said in.
    moments: list[tuple[int, float, str, str]] = field(default_factory=list)


@dataclass
class SearchRequest:
    """What a reader asked for; the same fields as the search page's query string.

    ``public=True`` restricts results to published stories whatever ``filters`` say.
    """

    q: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20
    public: bool = True


@dataclass(frozen=True)
class MomentHit:
    """Where in a recording a result matched: the line said there, escaped, words marked."""

    media_id: int
    start: float
    snippet_html: str


@dataclass
class SearchHit:
    """One result row. ``snippet_html`` is escaped text with ``<mark>`` around matches;
    ``moment`` is set when a word was said in one of the story's recordings."""

    id: int
    title: str
    snippet_html: str
    score: float
    places: list[str]
    period_start: int | None
    period_end: int | None
    language: str
    moment: MomentHit | None = None


@dataclass
class FacetValue:
    """One facet value and how many stories of the current result set carry it."""

    value: str
    count: int


@dataclass
class SearchPage:
    """One page of results plus facet counts over the *whole* result set of the query.

    ``error`` carries a friendly message for empty or junk input (never for a failure: a failed
    search raises :class:`SearchUnavailable`).
    """

    total: int
    hits: list[SearchHit]
    facets: dict[str, list[FacetValue]]
    page: int
    per_page: int
    suggestion: str | None = None
    error: str | None = None
