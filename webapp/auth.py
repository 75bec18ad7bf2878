"""Who is making the request: a browser session (Flask-Login) or an API bearer token.

This module identifies people; what they may do is decided in ``webapp.services.access``. It
also puts the login lockout (``accounts.check_credentials``) in front of the e-mail login form,
whichever blueprint renders it, so that a locked account can never be guessed into.
"""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_login import current_user

from webapp.extensions import db, login_manager
from webapp.models import ApiToken, User, utcnow

log = logging.getLogger(__name__)

#: Endpoints of e-mail + password login forms guarded by the lockout.
PASSWORD_LOGIN_ENDPOINTS = frozenset({"public.login"})


def init_app(app: Flask) -> None:
    login_manager.login_view = "public.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.session_protection = "strong"
    app.before_request(_guard_password_login)


def _guard_password_login():
    """Count wrong passwords and refuse locked accounts before the login view runs.

    The view itself checks the password again and logs the person in; this hook only adds the
    lockout (and its counter), answering 429 while an account is locked.
    """
    if request.method != "POST" or request.endpoint not in PASSWORD_LOGIN_ENDPOINTS:
        return None
    from webapp.errors import AuthenticationRequired
    from webapp.services import accounts

    email = (request.form.get("email") or "").strip().lower()
    try:
        accounts.authenticate(email, request.form.get("password") or "")
    except AuthenticationRequired as exc:
        if exc.message != accounts.WRONG_CREDENTIALS:
            log.info("login refused for a locked account")
            return render_template("login.html", email=email, locked=exc.message), 429
    return None


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user and user.active else None


@login_manager.request_loader
def _load_user_from_token(req) -> User | None:
    header = req.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    row = db.session.scalar(
        db.select(ApiToken).where(
            ApiToken.token_sha256 == ApiToken.digest(token.strip()), ApiToken.revoked.is_(False)
        )
    )
    if row is None or not row.user.active:
        return None
    row.last_used_at = utcnow()
    db.session.commit()
    return row.user


def current_person() -> User | None:
    """The logged-in user, or ``None`` for an anonymous visitor."""
    return current_user if current_user.is_authenticated else None
