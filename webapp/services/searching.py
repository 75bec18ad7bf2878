"""Public and staff search: turn query-string parameters into a ``SearchRequest`` and run it.

The page and ``GET /api/v1/search`` share this parsing so a search URL means the same thing in
both. Public searches can never ask for unpublished stories: ``public`` is not a parameter.
"""

from __future__ import annotations

from collections.abc import Mapping

from webapp.search.contract import FACET_NAMES, SearchPage, SearchRequest
from webapp.services import backends

MAX_PER_PAGE = 100


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
    return backends.search_index().search(request)
