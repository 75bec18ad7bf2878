"""The one place where errors become HTTP responses: JSON under /api, a page elsewhere."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from webapp.errors import PassagesError, PayloadTooLarge

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _respond(status: int, code: str, message: str, field: str | None = None, extra=None):
    if _wants_json():
        body = {"error": {"code": code, "message": message}}
        if field:
            body["error"]["field"] = field
        if extra:
            body["error"].update(extra)
        response = jsonify(body)
        response.status_code = status
        return response
    return render_template("error.html", status=status, message=message), status


def _size(limit: int) -> str:
    return f"{limit // 1048576} MB" if limit >= 4 * 1048576 else f"{limit // 1024} KB"


def register(app: Flask) -> None:
    @app.errorhandler(PassagesError)
    def _domain_error(exc: PassagesError):
        body = exc.to_json()["error"]
        extra = {k: v for k, v in body.items() if k not in ("code", "message", "field")}
        return _respond(exc.status, exc.code, exc.message, exc.field, extra)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc):
        # Raised by Werkzeug while parsing, before the part is kept (webapp.hardening).
        whole = request.max_content_length or 0
        field = request.max_form_memory_size or 0
        parts = request.max_form_parts or 0
        error = PayloadTooLarge(
            f"the request is too large: at most {_size(whole)} in one request, "
            f"{_size(field)} in one text field or metadata part, and {parts} parts"
        )
        return _respond(error.status, error.code, error.message)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        return _respond(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _respond(
            500, "internal_error", "something went wrong on our side; please try again later"
        )
