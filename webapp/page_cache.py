"""Rendered public pages kept in Redis (Flask-Caching), for anonymous visitors only.

A crowd reads the same few pages: rendering each one once and answering the next visitors from
Redis brings a page close to the cost of a static file. What may be kept is narrow on purpose:
``GET`` answers 200 that the view marked ``Cache-Control: public`` (never a draft, a preview
with a token, a logged-in view, a page that carries a CSRF token or a flash message), keyed by
interface language, path and the *canonical* form of the parameters the page reads, and only
once a page has been asked for twice (a flood of one-off addresses leaves small markers, not
pages).

The key holds only what the view reads (:data:`PAGED`, :data:`SEARCH`), sorted by name, each
value checked and bounded. Parameters the page does not read (``?utm_source=``, ``?fbclid=``,
junk) are answered from the canonical page when it is kept, and nothing is ever stored for
them: a page rendered from such an address may repeat them in its links. A value the page reads
but that is out of bounds (``?page=abc``, a 300-character query) is rendered and never kept.
``?t=`` (a private preview link) always bypasses the cache.

What is kept is bounded, because the same Redis carries the job queues: every marker and page
*created* is counted against a budget per window of ``PAGE_CACHE_SECONDS`` (entries and bytes,
one budget for addresses without parameters, whose number the archive bounds, and a smaller
one for addresses with parameters, which anyone can vary). Once a window's budget is spent, no
new address is kept until the next window. Every entry expires one window after it was created
at most (rewriting a page keeps the expiry it had), so at most two windows' budgets are alive
at any time: ``PAGE_CACHE_MAX_KEYS`` and ``PAGE_CACHE_MAX_MB`` are ceilings on what the cache
holds, whatever the visitors ask. Redis itself is given ``maxmemory`` with ``noeviction`` as a
backstop: no eviction policy is safe on a Redis shared with RQ (``allkeys-*`` may drop queued
jobs, ``volatile-*`` running executions, worker registrations and failed jobs; see
docs/architecture.md).

Every kept page carries the *generation* it was rendered in; a page of another generation is
never served. Anything that changes what the public sees moves the generation on
(:func:`invalidate`), which retires every page at once: the outbox relay does it when it
relays an event about a story that is or was public, a collection, or one it does not know
(``workers.relay.changes_public_pages``), the search worker once the index changed for a
story that is or was public (search results and facet counts come from the index), and the
publication hook right after a commit that moved a story's public record (image jobs included).
A private change — a pupil's draft, its photos' derivatives, a moderation move — retires
nothing. A page rendered again after a retirement replaces the retired one under the same key
(its address's marker is still there, so it is kept at once) and is not counted again: the
budget counts what the cache holds, not how often it was retired, so a busy morning of
publications cannot spend it. A withdrawal is gone from every cached page within the relay's
interval (plus ``GENERATION_REUSE`` for other processes). Pages also expire on their own after
``PAGE_CACHE_SECONDS`` (changes no event announces, such as a renamed organisation).

Redis being down never breaks a page: the cache steps aside for a few seconds and pages are
rendered as if it did not exist.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlencode

import redis
from flask import Flask, Response, current_app, g, request, session
from flask_caching import Cache
from flask_caching.backends.rediscache import RedisCache

log = logging.getLogger(__name__)

cache = Cache()

_WHOLE_NUMBER = re.compile(r"[1-9][0-9]{0,5}")


def whole_number(most: int) -> Callable[[str], bool]:
    """A value written the one way a link writes it (``2``, never ``02`` or `` 2``), at most
    ``most``."""
    return lambda value: bool(_WHOLE_NUMBER.fullmatch(value)) and int(value) <= most


def text(longest: int) -> Callable[[str], bool]:
    """Words a visitor typed or a link carries, at most ``longest`` characters."""
    return lambda value: 0 < len(value) <= longest and value.isprintable()


@dataclass(frozen=True)
class Reads:
    """The parameters a page reads: each name with the check its value must pass to be kept,
    and the names that may be repeated (a facet chosen twice) — the others appear once."""

    checks: Mapping[str, Callable[[str], bool]]
    repeatable: frozenset[str] = frozenset()
    #: At most this many parameters in all (a search with every facet ticked is not kept).
    most: int = 12


#: A page that reads nothing from its address (a story, the home page, a feed).
NOTHING = Reads({})
#: A paginated list (collections, a collection, an organisation, a place).
PAGED = Reads({"page": whole_number(10_000)})


def _search_reads() -> Reads:
    from webapp.services.searching import FACET_NAMES, MAX_PER_PAGE

    return Reads(
        {
            "q": text(200),
            "sort": lambda value: value in ("relevance", "period"),
            "page": whole_number(10_000),
            "per_page": whole_number(MAX_PER_PAGE),
            **{name: text(100) for name in FACET_NAMES},
        },
        repeatable=frozenset(FACET_NAMES),
    )


#: The search page: the words, the sort, the page and the facets (``search_request_from_args``).
SEARCH = _search_reads()

#: Parameters that make a page private wherever they appear: ``t`` opens a preview of a story
#: that is not public. Such a request never reads nor fills the cache.
PRIVATE_ARGS = frozenset({"t"})

#: Headers replayed from a kept page (the app's after-request hooks add the rest again).
KEPT_HEADERS = ("Content-Type", "Cache-Control", "ETag", "Last-Modified", "Vary")
#: After Redis fails, seconds during which pages are rendered without asking it again.
PAUSE_AFTER_FAILURE = 5.0
GENERATION = "generation"
#: Seconds a process reuses the generation it read (one Redis round trip per page instead of
#: two; under load each round trip waits for the Redis process to be scheduled). A change made
#: in this process is seen at once; one made elsewhere at most this much later.
GENERATION_REUSE = 0.5
#: What a marker or a page costs in Redis beyond its key and body (the value's encoding, the
#: key's expiry, Redis's own bookkeeping), counted against the budget.
ENTRY_OVERHEAD = 128
#: The share of the budget for addresses with parameters (searches, page numbers): anyone can
#: vary them, so they must not crowd out the story and home pages.
WITH_PARAMETERS_SHARE = 0.25
_FAILURES = (redis.RedisError, OSError)


@dataclass(frozen=True)
class Ceiling:
    """The most the kept pages and markers may hold in Redis at any time."""

    keys: int
    megabytes: int

    def window_budget(self, with_parameters: bool) -> tuple[int, int]:
        """Entries and bytes one window may write for one kind of address: half the ceiling
        per window (an entry lives at most into the next window), split between the kinds."""
        share = WITH_PARAMETERS_SHARE if with_parameters else 1 - WITH_PARAMETERS_SHARE
        return (
            max(1, int(self.keys * share / 2)),
            max(1, int(self.megabytes * 1024 * 1024 * share / 2)),
        )


class _AppRedis:
    """The app's own Redis client (``REDIS_URL`` or the embedded server), looked up when used:
    creating the app must not start a server, and each process gets its own connections."""

    def __getattr__(self, name: str) -> Any:
        from webapp.services import backends

        return getattr(backends.redis_connection(), name)


def _redis_cache(app: Flask, config: dict, args: list, kwargs: dict) -> RedisCache:
    """Flask-Caching factory (``CACHE_TYPE``): its Redis backend on the app's connection."""
    kwargs.update(key_prefix=config["CACHE_KEY_PREFIX"])
    return RedisCache(_AppRedis(), *args, **kwargs)


class _Pause:
    """Remember a recent Redis failure so that an outage costs one failed call per few
    seconds, not one per page."""

    def __init__(self) -> None:
        self.until = 0.0
        self.lock = threading.Lock()

    def active(self) -> bool:
        return time.monotonic() < self.until

    def failed(self, exc: BaseException) -> None:
        with self.lock:
            if not self.active():
                log.warning("page cache unavailable, pages rendered uncached: %s", exc)
            self.until = time.monotonic() + PAUSE_AFTER_FAILURE


def _pause() -> _Pause:
    return current_app.extensions["passages.page_pause"]


class _Generation:
    """The generation this process read last, and when."""

    def __init__(self) -> None:
        self.value: int | None = None
        self.read_at = 0.0

    def current(self) -> int:
        now = time.monotonic()
        if self.value is None or now - self.read_at > GENERATION_REUSE:
            self.value, self.read_at = int(cache.get(GENERATION) or 0), now
        return self.value

    def forget(self) -> None:
        self.value = None


def _generation() -> _Generation:
    return current_app.extensions["passages.page_generation"]


def init_app(app: Flask, seconds: int, prefix: str, ceiling: Ceiling | None = None) -> None:
    """Bind the cache; ``seconds`` = 0 turns it off (pages are then always rendered)."""
    app.extensions["passages.page_cache_seconds"] = seconds
    app.extensions["passages.page_generation"] = _Generation()
    app.extensions["passages.page_pause"] = _Pause()
    app.extensions["passages.page_ceiling"] = ceiling or Ceiling(keys=20_000, megabytes=64)
    app.extensions["passages.page_budget_prefix"] = f"{prefix}-pages:budget:"
    app.extensions["passages.page_key_prefix"] = f"{prefix}-pages:"
    cache.init_app(
        app,
        config={
            "CACHE_TYPE": "webapp.page_cache._redis_cache" if seconds else "NullCache",
            "CACHE_DEFAULT_TIMEOUT": seconds,
            "CACHE_KEY_PREFIX": f"{prefix}-pages:",
            "CACHE_NO_NULL_WARNING": True,
        },
    )


def enabled() -> bool:
    return bool(current_app.extensions.get("passages.page_cache_seconds"))


def invalidate() -> bool:
    """Retire every kept page (move the generation on); ``False`` if Redis could not be told.

    Called after the change is committed. When Redis is unreachable nothing kept can be served
    either, and pages expire on their own after ``PAGE_CACHE_SECONDS``.
    """
    if not enabled():
        return True
    _generation().forget()
    try:
        cache.cache.inc(GENERATION)
        return True
    except _FAILURES as exc:
        log.warning("could not retire the cached pages: %s", exc)
        return False


@dataclass(frozen=True)
class _Address:
    """Where this request's page is kept: ``path?canonical parameters``. ``storable`` is false
    when the request carried parameters the page does not read: it may be answered from the
    canonical page, but what it rendered is not stored (its links may repeat them)."""

    text: str
    with_parameters: bool
    storable: bool


def canonical_address(reads: Reads) -> _Address | None:
    """The request's address reduced to what the page reads, or ``None`` when the page must be
    rendered and not kept (a private preview, a value out of bounds, too many parameters)."""
    kept: list[tuple[str, str]] = []
    ignored = False
    seen: set[str] = set()
    for name, value in request.args.items(multi=True):
        if name in PRIVATE_ARGS:
            return None
        check = reads.checks.get(name)
        if check is None:
            ignored = True  # utm_source, fbclid, junk: the view never looks at it
            continue
        if (name in seen and name not in reads.repeatable) or not check(value):
            return None
        seen.add(name)
        kept.append((name, value))
    if len(kept) > reads.most:
        return None
    kept.sort(key=lambda pair: pair[0])  # stable: a facet's values keep the order they had
    query = urlencode(kept)
    return _Address(
        text=f"{request.path}?{query}" if query else request.path,
        with_parameters=bool(kept),
        storable=not ignored,
    )


def _may_keep() -> bool:
    """Whether this request's page may come from, or go to, the cache."""
    if request.method not in ("GET", "HEAD") or _pause().active():
        return False
    from webapp.auth import current_person

    if current_person() is not None:
        return False
    return "_flashes" not in session


def _key(address: _Address) -> str:
    """Language and address only: the generation is inside the entry, so a page rendered after
    a retirement takes the retired one's place instead of adding a key."""
    from flask_babel import get_locale

    return f"{get_locale()}:{address.text}"


def _storable(response: Response) -> bool:
    """A complete public answer with nothing personal in it."""
    return (
        response.status_code == 200
        and not response.direct_passthrough
        and "public" in (response.headers.get("Cache-Control") or "")
        and "Set-Cookie" not in response.headers
        and not session.modified  # a CSRF token, a flash message…
        and "csrf_token" not in g
    )


def _replay(entry: dict) -> Response:
    response = Response(entry["body"], status=200, headers=entry["headers"])
    return response.make_conditional(request)


def _within_budget(address: _Address, size: int, entries: int = 1) -> bool:
    """Count ``entries`` more entries (a new key, or 0 for a page replacing a retired one) of
    ``size`` more bytes against this window's budget; ``False`` once the budget is spent (the
    entry is then not written)."""
    seconds = current_app.extensions["passages.page_cache_seconds"]
    ceiling: Ceiling = current_app.extensions["passages.page_ceiling"]
    most_entries, most_bytes = ceiling.window_budget(address.with_parameters)
    kind = "parameters" if address.with_parameters else "paths"
    window = int(time.time() // seconds)
    key = f"{current_app.extensions['passages.page_budget_prefix']}{window}:{kind}"
    from webapp.services import backends

    pipe = backends.redis_connection().pipeline(transaction=False)
    pipe.hincrby(key, "entries", entries)
    pipe.hincrby(key, "bytes", size + ENTRY_OVERHEAD * entries)
    pipe.expire(key, 2 * seconds)
    entries, used, _ = pipe.execute()
    return entries <= most_entries and used <= most_bytes


def _asked_before(key: str, address: _Address) -> bool:
    """Keep a page only the second time it is rendered within ``PAGE_CACHE_SECONDS``: a crawler
    or a flood of one-off searches then leaves small markers in Redis, not a page each (the
    same Redis carries the job queues). A marker counts against the budget too."""
    marker = f"asked:{key}"
    try:
        if cache.get(marker) is not None:
            return True
        if _within_budget(address, len(marker)):
            cache.add(marker, 1)
        return False
    except _FAILURES as exc:
        _pause().failed(exc)
        return False


def _keep(
    key: str, address: _Address, response: Response, generation: int, retired: dict | None
) -> None:
    """Write the page for ``generation``. Over a ``retired`` page (the key is there) only what it
    grows by is counted, and the key keeps its expiry: an entry never outlives one window from
    the moment its key was counted."""
    headers = [(h, response.headers[h]) for h in KEPT_HEADERS if h in response.headers]
    body = response.get_data()
    entry = {"generation": generation, "body": body, "headers": headers}
    try:
        if retired is None:
            if _within_budget(address, len(key) + len(body)):
                cache.set(key, entry)
            return
        growth = max(0, len(body) - len(retired.get("body") or b""))
        if growth and not _within_budget(address, growth, entries=0):
            return
        from webapp.services import backends

        backends.redis_connection().set(
            current_app.extensions["passages.page_key_prefix"] + key,
            cache.cache.serializer.dumps(entry),
            xx=True,  # expired meanwhile: nothing is written (never a key without expiry)
            keepttl=True,
        )
    except _FAILURES as exc:
        _pause().failed(exc)


def cached_page(reads: Reads = NOTHING) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Serve the view's page from the cache when kept, else render it and keep it.

    ``reads`` names the parameters the view reads from the address (and how each is bounded):
    only those make up the key. A conditional request for a kept page is answered 304 from the
    kept ETag, without rendering anything.
    """

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not enabled() or not _may_keep():
                return view(*args, **kwargs)
            address = canonical_address(reads)
            if address is None:
                return view(*args, **kwargs)
            key = _key(address)
            try:
                generation = _generation().current()
                entry = cache.get(key)
            except _FAILURES as exc:
                _pause().failed(exc)
                return view(*args, **kwargs)
            if entry is not None and entry.get("generation") == generation:
                return _replay(entry)
            response = current_app.make_response(view(*args, **kwargs))
            if address.storable and _storable(response) and _asked_before(key, address):
                _keep(key, address, response, generation, entry)
            return response

        return wrapper

    return decorate
