"""The one place where errors become HTTP responses: JSON under /api, a page elsewhere.

Outages are told apart from bugs here, at the boundary, by the exception types the layers below
raise when their service does not answer: :class:`storage.StorageUnavailable` (object store),
SQLAlchemy's connection-level errors (database), Redis connection errors. Each becomes a
:class:`webapp.errors.ServiceUnavailable`: 503 with ``Retry-After``, the API's JSON error, or a
page that tells people nothing was saved and to try again in a few minutes. Anything else that
escapes a view is a bug: 500, logged with its traceback. There is no catch-all turning unknown
errors into 503s: an outage we do not recognise must be added here by type.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3

import redis
from flask import Flask, Response, g, jsonify, make_response, render_template, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _  # lazy, and found by pybabel extract
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from storage import StorageUnavailable
from webapp.errors import PassagesError, PayloadTooLarge, ServiceUnavailable

log = logging.getLogger(__name__)

#: SQLite's own words for "the file cannot be used now" (locked past the busy timeout, disk
#: full or read-only, file gone). Its other OperationalErrors ("no such table") are bugs.
_SQLITE_OUTAGES = (
    "database is locked",
    "unable to open database file",
    "disk i/o error",
    "readonly database",
    "database or disk is full",
)

_API_MESSAGES = {
    "object_store": _(
        "the archive's storage is unavailable for a moment; nothing was saved. "
        "Try again in a few minutes."
    ),
    "database": _(
        "the archive's database is unavailable for a moment; nothing was saved. "
        "Try again in a few minutes."
    ),
    "redis": _(
        "the archive's queue service is unavailable for a moment; nothing was saved. "
        "Try again in a few minutes."
    ),
}

#: What people read for an HTTP error the views did not word themselves (Werkzeug's own
#: descriptions are English and written for developers).
_HTTP_MESSAGES = {
    400: _("The request could not be understood. Check the address or the form."),
    401: _("Log in to see this page."),
    403: _("You are not allowed to see this page."),
    404: _("This page does not exist. Check the address, or start again from the home page."),
    405: _("This address cannot be used this way."),
    410: _("This page has been removed."),
    413: _("What you sent is too large."),
    429: _("Too many requests in a short time. Wait a moment and try again."),
}

#: Endpoints whose POST hands a story in: their page says "your story", not "what you sent".
_STORY_FORMS = frozenset({"submit.submit_form", "accounts.my_story"})


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _respond(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    extra=None,
    retry_after: int | None = None,
):
    if _wants_json():
        body = {"error": {"code": code, "message": message}}
        if field:
            body["error"]["field"] = field
        if extra:
            body["error"].update(extra)
        response = jsonify(body)
        response.status_code = status
    else:
        response = make_response(render_template("error.html", status=status, message=message))
        response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def database_outage(exc: sa_exc.SQLAlchemyError) -> bool:
    """Whether a database error means "the database cannot be reached or used now".

    Lost or refused connections, a pool with no free connection in time, and SQLite's file-level
    failures are outages; a wrong query or a missing table is not.
    """
    if isinstance(exc, sa_exc.TimeoutError):  # no connection free in the pool in time
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return False
    if isinstance(exc.orig, sqlite3.Error):
        text = str(exc.orig).lower()
        return any(words in text for words in _SQLITE_OUTAGES)
    # PostgreSQL (psycopg): OperationalError and InterfaceError are connection-level failures
    # (refused, reset, server shutting down, too many clients); query errors are other classes.
    return True


def _unavailable(dependency: str) -> Response:
    """The 503 for an outage of ``dependency``: JSON under /api, a page for people elsewhere."""
    error = ServiceUnavailable(dependency, str(_API_MESSAGES[dependency]))
    if _wants_json():
        return _respond(
            error.status,
            error.code,
            error.message,
            extra={"dependency": dependency, "retry_after": error.retry_after},
            retry_after=error.retry_after,
        )
    if dependency == "database":
        # The page's menu asks who is logged in, which needs the database: show it as a
        # visitor's page rather than fail again while rendering.
        from flask_login import AnonymousUserMixin

        g._login_user = AnonymousUserMixin()
    html = render_template(
        "unavailable.html",
        dependency=dependency,
        sent=request.method == "POST",
        story_form=request.endpoint in _STORY_FORMS,
    )
    response = make_response(html, error.status)
    response.headers["Retry-After"] = str(error.retry_after)
    return response


def _size(limit: int) -> str:
    return f"{limit // 1048576} MB" if limit >= 4 * 1048576 else f"{limit // 1024} KB"


def register(app: Flask) -> None:
    @app.errorhandler(PassagesError)
    def _domain_error(exc: PassagesError):
        if isinstance(exc, ServiceUnavailable):
            return _unavailable(exc.dependency)
        body = exc.to_json()["error"]
        extra = {k: v for k, v in body.items() if k not in ("code", "message", "field")}
        return _respond(exc.status, exc.code, exc.message, exc.field, extra, exc.retry_after)

    @app.errorhandler(StorageUnavailable)
    def _storage_down(exc: StorageUnavailable):
        log.warning("object store unavailable on %s %s: %s", request.method, request.path, exc)
        return _unavailable("object_store")

    @app.errorhandler(sa_exc.SQLAlchemyError)
    def _database_error(exc: sa_exc.SQLAlchemyError):
        if not database_outage(exc):
            return _unexpected(exc)
        log.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
        with contextlib.suppress(sa_exc.SQLAlchemyError):
            from webapp.extensions import db

            db.session.rollback()
        return _unavailable("database")

    @app.errorhandler(redis.ConnectionError)
    @app.errorhandler(redis.TimeoutError)
    def _redis_down(exc: redis.RedisError):
        log.warning("redis unavailable on %s %s: %s", request.method, request.path, exc)
        return _unavailable("redis")

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc):
        # Raised by Werkzeug while parsing, before the part is kept (webapp.hardening).
        whole = request.max_content_length or 0
        field = request.max_form_memory_size or 0
        parts = request.max_form_parts or 0
        error = PayloadTooLarge(
            gettext(
                "the request is too large: at most %(whole)s in one request, %(field)s in one "
                "text field or metadata part, and %(parts)s parts",
                whole=_size(whole),
                field=_size(field),
                parts=parts,
            )
        )
        return _respond(error.status, error.code, error.message)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        default = type(exc).description  # Werkzeug's English text: not worded by our views
        worded = exc.description if exc.description != default else None
        message = worded or _HTTP_MESSAGES.get(exc.code or 500) or exc.description or exc.name
        response = _respond(exc.code or 500, code, str(message))
        # The headers the status needs keep their meaning on our page: a 416's
        # ``Content-Range: bytes */<size>`` (a player learns the length), a 405's ``Allow``.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _respond(
            500,
            "internal_error",
            gettext("something went wrong on our side; please try again later"),
        )
