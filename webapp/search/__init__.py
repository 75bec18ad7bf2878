"""Search over stories: a narrow interface (index, remove, search) in front of Whoosh.

Callers import everything from here and never touch Whoosh: the worker builds a
:class:`StoryDocument` and calls :meth:`SearchIndex.upsert` / :meth:`SearchIndex.remove`, the web
app sends a :class:`SearchRequest` and renders the :class:`SearchPage`. Nothing in this package may
import Flask, RQ or the database, so that another engine could stand behind the same interface.
"""

from __future__ import annotations

from webapp.search.contract import (
    FACET_NAMES,
    FILTER_KEYS,
    PUBLISHED,
    FacetValue,
    IndexBusy,
    IndexRebuilding,
    SearchHit,
    SearchPage,
    SearchRequest,
    SearchUnavailable,
    StoryDocument,
)
from webapp.search.engine import SearchIndex

__all__ = [
    "FACET_NAMES",
    "FILTER_KEYS",
    "PUBLISHED",
    "FacetValue",
    "IndexBusy",
    "IndexRebuilding",
    "SearchHit",
    "SearchIndex",
    "SearchPage",
    "SearchRequest",
    "SearchUnavailable",
    "StoryDocument",
]
