"""Fixtures for the security suite: the real app driven over HTTP (Flask's test client, or a
real threaded HTTP server for parallel bursts), the moderation "school world", and an app with
rate limits on (backed by a real throw-away redis-server)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import PASSWORD, _dispose, build_app
from tests.moderation.conftest import new_story, token_for, user, world  # noqa: F401

__all__ = ["PASSWORD", "login", "copy_session_cookie"]


def login(client, email: str, password: str = PASSWORD):
    """Log in through the form; return the response."""
    return client.post("/login", data={"email": email, "password": password})


def class_login(client, code: str, pseudonym: str, access_code: str):
    return client.post(
        "/class-login", data={"code": code, "pseudonym": pseudonym, "access_code": access_code}
    )


def copy_session_cookie(source, target) -> None:
    """Put ``source``'s session cookie in ``target`` (an attacker replaying a copied cookie)."""
    cookie = source.get_cookie("session", domain="passages.test") or source.get_cookie("session")
    assert cookie is not None, "the source client has no session cookie"
    target.set_cookie("session", cookie.value, domain=cookie.domain)


@pytest.fixture
def limited_app(tmp_path: Path, redis_server):
    """An app with every rate limit on, counted in a real redis-server."""
    app = build_app(
        tmp_path / "limited",
        RATE_LIMITS_ENABLED="true",
        REDIS_URL=redis_server.url,
        RATE_LIMIT_SUBMIT="3/minute",
        RATE_LIMIT_TAKEDOWN="3/minute",
        RATE_LIMIT_JOIN="3/minute",
        RATE_LIMIT_CLASS_LOGIN="3/minute",
        RATE_LIMIT_LOGIN="3/minute",
        RATE_LIMIT_API_WRITE="3/minute",
        RATE_LIMIT_API_TOKEN="5/minute",
    )
    yield app
    _dispose(app)


class LiveServer:
    """The app served by a real threaded HTTP server on a free loopback port."""

    def __init__(self, app) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:
    app.config["SERVER_NAME"] = None  # answer for 127.0.0.1:<port>
    with LiveServer(app) as server:
        yield server
