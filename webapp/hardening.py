"""HTTP-level protections every response and request goes through: the site's public address,
trusted hosts, request body bounds and security headers.

- ``PUBLIC_URL``: a WSGI middleware rewrites the request's host, scheme and script root to the
  configured address before Flask sees it, so ``url_for(..., _external=True)`` (canonical links,
  Open Graph, citations, API ``url`` fields, e-mails) is never written from a Host header an
  attacker chose. ``TRUSTED_HOSTS`` refuses requests naming any other host (400).
- Bodies: a request without images may carry at most ``MAX_REQUEST_KB``; every text field and
  ``metadata`` part at most ``MAX_FORM_FIELD_KB``; at most ``MAX_FORM_PARTS`` parts. Werkzeug
  checks these while it parses, before a part is kept in memory, and answers 413.
- Headers: a Content-Security-Policy that allows no inline script or style (templates must use
  static files), ``frame-ancestors 'none'``, ``nosniff``, a referrer policy that keeps private
  status links from leaking to other sites, and HSTS when the request came over TLS.

This module never reads the database and never decides who may do what.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, request, session

from webapp.config import Settings

#: Endpoints that receive images: the only ones allowed the full upload size.
UPLOAD_ENDPOINTS = frozenset({"submit.submit_form", "api.create_story", "curation.upload_import"})

HSTS = "max-age=31536000; includeSubDomains"


class PublicAddress:
    """WSGI middleware: refuse untrusted hosts, then present every request as addressed to
    ``PUBLIC_URL`` (host, port, scheme, path prefix)."""

    def __init__(self, app: Callable, public_url: str | None, trusted_hosts: Iterable[str]):
        self.app = app
        self.trusted_hosts = tuple(trusted_hosts)
        self.target = urlsplit(public_url) if public_url else None

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if self.trusted_hosts and not host_is_trusted(_request_host(environ), self.trusted_hosts):
            body = b"Bad Request: this site does not answer for that host name.\n"
            start_response(
                "400 Bad Request",
                [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
            )
            return [body]
        if self.target is not None:
            target = self.target
            environ["passages.request_host"] = environ.get("HTTP_HOST", "")
            environ["wsgi.url_scheme"] = target.scheme
            environ["HTTP_HOST"] = target.netloc
            environ["SERVER_NAME"] = target.hostname or ""
            environ["SERVER_PORT"] = str(target.port or (443 if target.scheme == "https" else 80))
            prefix = target.path.rstrip("/")
            if prefix and not environ.get("SCRIPT_NAME"):
                path = environ.get("PATH_INFO", "")
                environ["SCRIPT_NAME"] = prefix
                if path.startswith(prefix + "/") or path == prefix:
                    environ["PATH_INFO"] = path[len(prefix) :] or "/"
        return self.app(environ, start_response)


def _request_host(environ: dict[str, Any]) -> str:
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    return host.rsplit(":", 1)[0] if not host.endswith("]") else host


def host_is_trusted(host: str, trusted: Iterable[str]) -> bool:
    """``host`` (without port) is one of ``trusted``; ``.example.fr`` matches sub-domains."""
    host = host.strip().lower().rstrip(".")
    if not host:
        return False
    for entry in trusted:
        if entry.startswith(".") and (host == entry[1:] or host.endswith(entry)):
            return True
        if host == entry:
            return True
    return False


def protect_data_dir(settings: Settings) -> None:
    """Make the data folder private to the account running Passages: the folder and its
    sub-folders (object store, index, embedded Redis and its dumps) 0700, the files directly in
    it (SQLite database, secret key) 0600. New files are private too while the folder is 0700;
    ``passages`` commands also set a 0077 umask so files keep private modes if moved."""
    root = settings.data_dir
    with contextlib.suppress(OSError):
        root.chmod(0o700)
    with contextlib.suppress(OSError):
        for child in root.iterdir():
            if child.is_dir() and not child.is_symlink():
                child.chmod(0o700)
            elif child.is_file():
                child.chmod(0o600)
    if settings.uses_sqlite:
        database = Path(settings.database_url.removeprefix("sqlite:///"))
        if not database.exists() and database.parent.is_dir():
            # Create it empty and private before SQLite does (with the process umask).
            with contextlib.suppress(OSError):
                os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))


def serve_at(app: Flask, public_url: str) -> None:
    """Use ``public_url`` for links when ``PUBLIC_URL`` was not configured (``passages run``
    knows the address it serves: ``--host``/``--port``)."""
    middleware: PublicAddress = app.extensions["passages.public_address"]
    if middleware.target is None:
        middleware.target = urlsplit(public_url.rstrip("/"))
        app.config["PREFERRED_URL_SCHEME"] = middleware.target.scheme


def content_security_policy(settings: Settings) -> str:
    """No inline script or style anywhere; images from here (and from ``S3_PUBLIC_ENDPOINT``
    when published images are handed out as presigned URLs signed for it)."""
    images = ["'self'", "data:"]
    if settings.s3_public_endpoint:
        endpoint = settings.s3_public_endpoint
        if "://" not in endpoint:
            endpoint = ("https://" if settings.s3_secure else "http://") + endpoint
        parts = urlsplit(endpoint)
        images.append(f"{parts.scheme}://{parts.netloc}")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {' '.join(images)}",
            f"media-src {' '.join(source for source in images if source != 'data:')}",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def init_app(app: Flask, settings: Settings) -> None:
    """Install the middleware, the body bounds and the headers. Call before CSRF is set up, so
    the bounds are in place before anything parses a form."""
    protect_data_dir(settings)
    app.wsgi_app = PublicAddress(app.wsgi_app, settings.public_url, settings.trusted_hosts)
    app.extensions["passages.public_address"] = app.wsgi_app
    app.config["TRUSTED_HOSTS"] = None  # checked by PublicAddress, before the host is rewritten
    app.config["MAX_FORM_MEMORY_SIZE"] = settings.max_form_field_kb * 1024
    app.config["MAX_FORM_PARTS"] = settings.max_form_parts
    if settings.public_url:
        app.config["PREFERRED_URL_SCHEME"] = urlsplit(settings.public_url).scheme
    policy = content_security_policy(settings)
    small_body = settings.max_request_kb * 1024

    @app.before_request
    def _bound_request_body() -> None:
        if request.endpoint not in UPLOAD_ENDPOINTS:
            request.max_content_length = small_body

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", HSTS)
        if "Cache-Control" not in headers and (
            session.accessed or "Authorization" in request.headers
        ):
            # An answer that may depend on who asks (it read the session, or a token came with
            # it) and did not declare itself public is never kept by a proxy or a browser.
            headers["Cache-Control"] = "private, no-store"
        return response
