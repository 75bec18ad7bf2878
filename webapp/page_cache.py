"""Rendered public pages kept in Redis (Flask-Caching), for anonymous visitors only.

A crowd reads the same few pages: rendering each one once and answering the next visitors from
Redis brings a page close to the cost of a static file. What may be kept is narrow on purpose:
``GET`` answers 200 that the view marked ``Cache-Control: public`` (never a draft, a preview
with a token, a logged-in view, a page that carries a CSRF token or a flash message), keyed by
address and interface language, and only once a page has been asked for twice (a flood of
one-off addresses leaves small markers, not pages).

Every key holds a *generation* number. Anything that changes what the public sees moves the
generation on (:func:`invalidate`), which retires every page at once: the outbox relay does it
when it relays an event that changes public content (publication, withdrawal, edits, erasure,
collection changes, images), the workers do it once the search index or an image is updated
(search results and facet counts come from the index), and the publication hook does it right
after a commit that moved a story's public record. A page rendered from the old state is stored
under the old generation, which no reader asks for any more, so a withdrawal is gone from every
cached page within the relay's interval (plus ``GENERATION_REUSE`` for other processes).
Pages also expire on their own after
``PAGE_CACHE_SECONDS`` (changes no event announces, such as a renamed organisation).

Redis being down never breaks a page: the cache steps aside for a few seconds and pages are
rendered as if it did not exist.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

import redis
from flask import Flask, Response, current_app, g, request, session
from flask_caching import Cache
from flask_caching.backends.rediscache import RedisCache

log = logging.getLogger(__name__)

cache = Cache()

#: Outbox events after which the public pages may differ (the relay calls :func:`invalidate`):
#: every event about a story, a collection or images. Moderation moves of stories that are not
#: public change no page, but retiring the pages once more costs one Redis command.
PAGE_EVENT_FAMILIES = ("story.", "collection.", "media.")


def changes_pages(event_type: str) -> bool:
    return event_type.startswith(PAGE_EVENT_FAMILIES)


#: Query parameters a public page understands; an address with any other is rendered, not kept
#: (so nobody fills Redis by varying a meaningless parameter).
KNOWN_ARGS = frozenset(
    {"page", "q", "sort", "place", "decade", "theme", "language", "organisation", "collection"}
)
#: Headers replayed from a kept page (the app's after-request hooks add the rest again).
KEPT_HEADERS = ("Content-Type", "Cache-Control", "ETag", "Last-Modified", "Vary")
#: After Redis fails, seconds during which pages are rendered without asking it again.
PAUSE_AFTER_FAILURE = 5.0
GENERATION = "generation"
#: Seconds a process reuses the generation it read (one Redis round trip per page instead of
#: two; under load each round trip waits for the Redis process to be scheduled). A change made
#: in this process is seen at once; one made elsewhere at most this much later.
GENERATION_REUSE = 0.5
_FAILURES = (redis.RedisError, OSError)


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


def init_app(app: Flask, seconds: int, prefix: str) -> None:
    """Bind the cache; ``seconds`` = 0 turns it off (pages are then always rendered)."""
    app.extensions["passages.page_cache_seconds"] = seconds
    app.extensions["passages.page_generation"] = _Generation()
    app.extensions["passages.page_pause"] = _Pause()
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


def _may_keep() -> bool:
    """Whether this request's page may come from, or go to, the cache."""
    if request.method not in ("GET", "HEAD") or _pause().active():
        return False
    if any(name not in KNOWN_ARGS for name in request.args):
        return False  # includes ?t= (a private preview link)
    from webapp.auth import current_person

    if current_person() is not None:
        return False
    return "_flashes" not in session


def _key(generation: int) -> str:
    from flask_babel import get_locale

    return f"{generation}:{get_locale()}:{request.url}"


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


def _asked_before(key: str) -> bool:
    """Keep a page only the second time it is rendered within ``PAGE_CACHE_SECONDS``: a crawler
    or a flood of one-off searches then leaves small markers in Redis, not a page each (the
    same Redis carries the job queues)."""
    try:
        return not cache.add(f"asked:{key}", 1)
    except _FAILURES as exc:
        _pause().failed(exc)
        return False


def cached_page(view: Callable[..., Any]) -> Callable[..., Any]:
    """Serve the view's page from the cache when kept, else render it and keep it.

    A conditional request for a kept page is answered 304 from the kept ETag, without
    rendering anything.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not enabled() or not _may_keep():
            return view(*args, **kwargs)
        try:
            key = _key(_generation().current())
            entry = cache.get(key)
        except _FAILURES as exc:
            _pause().failed(exc)
            return view(*args, **kwargs)
        if entry is not None:
            return _replay(entry)
        response = current_app.make_response(view(*args, **kwargs))
        if _storable(response) and _asked_before(key):
            headers = [(h, response.headers[h]) for h in KEPT_HEADERS if h in response.headers]
            body = response.get_data() if response.status_code == 200 else None
            try:
                cache.set(key, {"body": body, "headers": headers})
            except _FAILURES as exc:
                _pause().failed(exc)
        return response

    return wrapper
