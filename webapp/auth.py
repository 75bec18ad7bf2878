"""Who is making the request: a browser session (Flask-Login) or an API bearer token.

This module identifies people; what they may do is decided in ``webapp.services.access``.
"""

from __future__ import annotations

from flask import Flask, request
from flask_login import current_user

from webapp.extensions import db, login_manager
from webapp.models import ApiToken, User, utcnow


def init_app(app: Flask) -> None:
    login_manager.login_view = "public.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.session_protection = "strong"


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


def bearer_token_sent() -> bool:
    return request.headers.get("Authorization", "").lower().startswith("bearer ")


def current_person() -> User | None:
    """The logged-in user, or ``None`` for an anonymous visitor."""
    return current_user if current_user.is_authenticated else None
