"""People and where they belong: organisations, users, API tokens, classes and invitations, and
the login throttle counters.

A user's ``session_epoch`` goes up whenever something that must end their sessions happens (a
new password or access code, a role change, deactivation, logout): the epoch is part of the id
kept in the session cookie, so an older cookie no longer loads anyone. The bump is made here, by
attribute events, so that no caller can change a password or a role and forget it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.extensions import db
from webapp.models.base import (
    OrganisationKind,
    Role,
    enum_column,
    utcnow,
)


class Organisation(db.Model):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    kind: Mapped[str] = enum_column(OrganisationKind.ASSOCIATION)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    users: Mapped[list[User]] = relationship(back_populates="organisation")


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Nullable: students join a class with a pseudonym and never give an e-mail address.
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(120), nullable=False)
    password_hash: Mapped[str | None] = mapped_column(String(256))
    role: Mapped[str] = enum_column(Role.CONTRIBUTOR)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: Students belong to one class; they log in with its code, their pseudonym and a personal
    #: access code (kept hashed in ``password_hash``).
    class_id: Mapped[int | None] = mapped_column(ForeignKey("school_classes.id"), index=True)
    # (users.failed_logins and users.locked_until, the old lockout, stay in the database unused:
    # logins are throttled by LoginThrottle rows, see webapp.services.throttle.)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Raised to end every existing session of this user (see the module docstring).
    session_epoch: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    organisation: Mapped[Organisation | None] = relationship(back_populates="users")
    school_class: Mapped[SchoolClass | None] = relationship(
        foreign_keys=[class_id], back_populates="students"
    )

    def set_password(self, password: str) -> None:
        """Hash with the configured method: scrypt (memory-hard, random salt) in production; the
        test suite's app sets a cheap one (``Settings.password_hash_method``)."""
        method = "scrypt"
        if has_app_context() and "passages.settings" in current_app.extensions:
            method = current_app.extensions["passages.settings"].password_hash_method
        self.password_hash = generate_password_hash(password, method=method)

    @property
    def is_active(self) -> bool:  # Flask-Login reads this
        return self.active

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    def get_id(self) -> str:
        """What Flask-Login keeps in the session: ``<id>.<epoch>``, so raising the epoch makes
        every cookie issued before it load nobody (``webapp.auth``)."""
        return f"{self.id}.{self.session_epoch or 0}"

    def end_sessions(self) -> None:
        """End every session this user has open, everywhere (logout, password change…)."""
        self.session_epoch = (self.session_epoch or 0) + 1

    @property
    def is_student(self) -> bool:
        return self.class_id is not None

    def has_role(self, *roles: Role) -> bool:
        return self.role in {r.value for r in roles}

    @property
    def is_staff(self) -> bool:
        """Archivists and admins may see every story whatever its state."""
        return self.has_role(Role.ARCHIVIST, Role.ADMIN)


class ApiToken(db.Model):
    """A bearer token for integrations; only its SHA-256 is stored, the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    label: Mapped[str] = mapped_column(String(120), default="", nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    #: After this moment the token is refused (``API_TOKEN_DAYS`` after issue; ``None`` = never).
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()

    @staticmethod
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8")).hexdigest()

    @classmethod
    def issue(
        cls, user: User, label: str = "", expires_at: datetime | None = None
    ) -> tuple[ApiToken, str]:
        token = "psg_" + secrets.token_urlsafe(32)
        row = cls(user=user, token_sha256=cls.digest(token), label=label, expires_at=expires_at)
        return row, token


class LoginThrottle(db.Model):
    """Failed-login counter for one account name or one client address (``webapp.services.
    throttle``). Times are whole seconds since the epoch so the atomic update that counts an
    attempt can do its arithmetic in SQL on SQLite and PostgreSQL alike."""

    __tablename__ = "login_throttles"

    #: ``account:<login name>`` or ``address:<client address>``.
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    #: Attempts counted since the last success (each attempt is counted *before* the check).
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    #: Current back-off in seconds; doubles at each attempt past the free ones, up to a cap.
    penalty: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    #: No attempt is checked before this moment (seconds since the epoch; 0 = free).
    blocked_until: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    updated_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


def _end_sessions_on_change(target: User, value, oldvalue, _initiator) -> None:
    """A new password/access code, role or active flag ends the user's existing sessions."""
    if value != oldvalue:
        target.session_epoch = (target.session_epoch or 0) + 1


for _attribute in (User.password_hash, User.role, User.active):
    # active_history: compare with the stored value even when it was not loaded yet.
    event.listen(_attribute, "set", _end_sessions_on_change, active_history=True)


class SchoolClass(db.Model):
    """A teacher's class: students join with ``code`` and a pseudonym, never an e-mail address."""

    __tablename__ = "school_classes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    #: Short code written on the board and the printable sheet (no ambiguous characters).
    code: Mapped[str] = mapped_column(String(16), nullable=False, unique=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    open_for_joining: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    organisation: Mapped[Organisation | None] = relationship()
    teacher: Mapped[User] = relationship(foreign_keys=[teacher_id])
    students: Mapped[list[User]] = relationship(
        foreign_keys="User.class_id", back_populates="school_class", order_by="User.display_name"
    )


class Invitation(db.Model):
    """An invitation link for a teacher/coordinator/archivist; only the token's SHA-256 is kept."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    organisation: Mapped[Organisation | None] = relationship()
