"""Who is making the request: a browser session (Flask-Login) on the site, a bearer token on the
API — never the other way round — and the throttled password login both kinds of login form use.

- Sessions: the id kept in the session cookie is ``<user id>.<session epoch>``; a user whose
  epoch has moved on (logout, new password or access code, role change, deactivation) loads as
  nobody, so a copied cookie stops working server-side.
- API (``/api/v1``): only ``Authorization: Bearer <token>`` identifies someone. A session cookie
  is ignored there, and a write that carries a logged-in cookie but no token is refused with 401,
  so a cross-site form cannot act with an archivist's cookie. Unknown, revoked or expired tokens
  get 401 too.
- ``password_login``: counts the attempt (``webapp.services.throttle``) in its own committed
  unit of work *before* checking the password, then checks it in constant time.

This module identifies people; what they may do is decided in ``webapp.services.access``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, current_app, g, jsonify, request, session
from flask_babel import lazy_gettext as _  # lazy, and found by pybabel extract
from flask_login import current_user

from webapp.errors import AuthenticationRequired
from webapp.extensions import login_manager
from webapp.models import User
from webapp.unit_of_work import unit_of_work

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: The API's own description: served to anyone, whatever Authorization header comes along.
PUBLIC_API_DOCUMENTS = frozenset({"api.openapi", "api.story_schema"})


def init_app(app: Flask) -> None:
    login_manager.login_view = "public.login"
    login_manager.login_message = _("Please log in to continue.")
    login_manager.session_protection = "strong"
    app.before_request(_api_authentication)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    """Load the session's user only if the epoch in the cookie is still the user's."""
    raw_id, dot, raw_epoch = user_id.partition(".")
    if not dot or not raw_id.isdigit() or not raw_epoch.isdigit():
        return None  # a cookie from before session epochs: log in again
    from webapp.services import accounts

    user = accounts.get_user(int(raw_id))
    if user is None or not user.active or (user.session_epoch or 0) != int(raw_epoch):
        return None
    return user


def _api_authentication():
    """On ``/api/v1`` the bearer token alone says who is calling (see the module docstring)."""
    if request.blueprint != "api" or request.endpoint in PUBLIC_API_DOCUMENTS:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if header and scheme.lower() == "bearer":
        user = _user_for_token(token.strip())
        if user is None:
            return _api_401(
                "authentication_required",
                "this API token is unknown, expired or revoked; ask for a new one",
            )
        g._login_user = user  # what Flask-Login's current_user returns for this request
        return None
    g._login_user = login_manager.anonymous_user()
    if request.method not in SAFE_METHODS and session.get("_user_id"):
        return _api_401(
            "authentication_required",
            "the API does not accept a login cookie; send 'Authorization: Bearer <token>'",
        )
    return None


def _api_401(code: str, message: str):
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="passages"'
    return response


def _user_for_token(token: str) -> User | None:
    from webapp.services import accounts

    if not token:
        return None
    row = accounts.find_token(token)
    if not accounts.token_is_valid(row):
        return None
    if accounts.token_use_is_due(row):
        with unit_of_work() as uow:
            accounts.record_token_use(uow, row)
    return row.user


def current_person() -> User | None:
    """The logged-in user, or ``None`` for an anonymous visitor."""
    return current_user if current_user.is_authenticated else None


def client_address() -> str:
    """The address throttles and rate limits count by (``remote_addr``: put the app behind a
    proxy that sets it, e.g. gunicorn with ``--forwarded-allow-ips``)."""
    return request.remote_addr or "unknown"


def password_login(login_name: str, check: Callable[[], User]) -> User:
    """Count a login attempt for ``login_name`` and this client's address, then run ``check``
    (which raises ``AuthenticationRequired`` for a wrong answer) and record the success.

    Raises ``throttle.LoginThrottled`` while either key is in its back-off. Three short units of
    work on purpose: the attempt must be counted (committed) before the password is checked,
    whatever happens to the request afterwards.
    """
    from webapp.services import accounts, backends, throttle

    settings = backends.settings()
    account = throttle.Rule(
        throttle.account_key(login_name),
        settings.login_free_attempts,
        settings.login_backoff_seconds,
        settings.login_backoff_max_seconds,
    )
    address = throttle.Rule(
        throttle.address_key(client_address()),
        settings.login_address_free_attempts,
        settings.login_backoff_seconds,
        settings.login_backoff_max_seconds,
    )
    with unit_of_work() as uow:
        throttle.count_attempt(uow, [address, account])
    try:
        user = check()
    except AuthenticationRequired:
        log.info("wrong login for an account name (throttle key counted)")
        raise
    with unit_of_work() as uow:
        throttle.succeeded(uow, account, address)
        accounts.record_login(uow, user)
    return user


def log_out_everywhere(user: User | None) -> None:
    """End every session of ``user`` (the cookie being used now included)."""
    from webapp.services import accounts

    if user is None:
        return
    with unit_of_work() as uow:
        accounts.end_sessions(uow, user)
    current_app.logger.info("sessions of user %s ended", user.id)
