"""Public and staff search: turn query-string parameters into a ``SearchRequest`` and run it.

The page and ``GET /api/v1/search`` share this parsing so a search URL means the same thing in
both. Public searches can never ask for unpublished stories: ``public`` is not a parameter. A
search that fails is an error (:class:`webapp.errors.SearchUnavailable`, 503), never an empty
page: this module must never turn an engine failure into "no results".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from webapp.errors import SearchUnavailable
from webapp.search.contract import (
    FACET_NAMES,
    IndexRebuilding,
    SearchPage,
    SearchRequest,
)
from webapp.search.contract import SearchUnavailable as EngineUnavailable
from webapp.services import backends

log = logging.getLogger(__name__)

MAX_PER_PAGE = 100

#: What people and integrations are told (pages translate their own wording of these).
MESSAGE_UNAVAILABLE = "search is unavailable right now; please try again in a moment"
MESSAGE_REBUILDING = "the search index is being rebuilt; search will be back in a few minutes"


def _int_arg(args: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(args.get(name, default))
    except (TypeError, ValueError):
        return default
    return max(low, min(high, value))


def search_request_from_args(args, *, public: bool = True) -> SearchRequest:
    """Read ``q``, ``sort``, ``page``, ``per_page`` and one list per facet name."""
    filters = {}
    names = FACET_NAMES if public else (*FACET_NAMES, "status")
    for name in names:
        values = [v for v in args.getlist(name) if v.strip()] if hasattr(args, "getlist") else []
        if values:
            filters[name] = values
    sort = args.get("sort", "relevance")
    return SearchRequest(
        q=(args.get("q") or "")[:500],
        filters=filters,
        sort=sort if sort in ("relevance", "period") else "relevance",
        page=_int_arg(args, "page", 1, 1, 10_000),
        per_page=_int_arg(args, "per_page", 20, 1, MAX_PER_PAGE),
        public=public,
    )


def search_stories(request: SearchRequest) -> SearchPage:
    """Run a search; raises :class:`SearchUnavailable` when the engine cannot answer."""
    try:
        return backends.search_index().search(request)
    except IndexRebuilding as exc:
        raise SearchUnavailable(MESSAGE_REBUILDING, rebuilding=True) from exc
    except EngineUnavailable as exc:
        raise SearchUnavailable(MESSAGE_UNAVAILABLE) from exc
    except OSError as exc:  # the index folder itself cannot be created or read
        log.exception("search index folder unusable")
        raise SearchUnavailable(MESSAGE_UNAVAILABLE) from exc
