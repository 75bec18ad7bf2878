"""People and API tokens: creation and password rules used by the CLI and (later) admin pages."""

from __future__ import annotations

from webapp.extensions import db
from webapp.models import ApiToken, Role, User


class AccountError(ValueError):
    pass


MIN_PASSWORD_LENGTH = 8


def create_or_update_user(
    email: str, role: str, password: str, display_name: str | None = None
) -> tuple[User, bool]:
    email = email.strip().lower()
    if "@" not in email:
        raise AccountError(f"not an e-mail address: {email!r}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    Role(role)
    user = db.session.scalar(db.select(User).where(User.email == email))
    created = user is None
    if user is None:
        user = User(email=email, display_name=display_name or email.split("@")[0])
        db.session.add(user)
    elif display_name:
        user.display_name = display_name
    user.role = role
    user.set_password(password)
    db.session.commit()
    return user, created


def issue_token(email: str, label: str = "") -> str:
    user = db.session.scalar(db.select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise AccountError(f"no user with e-mail {email}")
    row, token = ApiToken.issue(user, label)
    db.session.add(row)
    db.session.commit()
    return token
