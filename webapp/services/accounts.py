"""People, organisations, invitations, API tokens, sessions and the password check.

Used by the CLI, the admin pages and the login forms. Passwords are hashed with Werkzeug's scrypt.
Guessing is slowed down by ``webapp.services.throttle`` (per account name and per address), not
by locking accounts. ``check_credentials`` takes the same time whether or not the account exists
(an unknown name is checked against a dummy hash) and gives the same answer. This module never
stores a secret in clear (invitation and API tokens are kept as SHA-256), never says whether an
account exists, and never commits: callers pass the unit of work they opened.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import UTC, datetime, timedelta

from flask_babel import gettext
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.errors import AuthenticationRequired, BadRequest, Forbidden, NotFound
from webapp.extensions import db
from webapp.models import ApiToken, Invitation, Organisation, OrganisationKind, Role, User, utcnow
from webapp.services import audit
from webapp.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


class AccountError(ValueError):
    pass


MIN_PASSWORD_LENGTH = 8
INVITATION_DAYS = 14
WRONG_CREDENTIALS = "wrong name or password"
#: ``last_used_at`` of a token is written at most this often (not one write per API call).
TOKEN_USE_RESOLUTION = timedelta(minutes=1)

#: Checked when no account matches, so an unknown name costs the same hashing work as a real
#: one (the timing does not tell which accounts exist). One per hash method, made on first use.
_dummy_hashes: dict[str, str] = {}


def _dummy_password_hash() -> str:
    from webapp.services import backends

    method = backends.settings().password_hash_method
    if method not in _dummy_hashes:
        _dummy_hashes[method] = generate_password_hash(secrets.token_urlsafe(16), method=method)
    return _dummy_hashes[method]


def create_or_update_user(
    uow: UnitOfWork, email: str, role: str, password: str, display_name: str | None = None
) -> tuple[User, bool]:
    """Create a user, or give an existing one a new password and role (which ends their
    sessions: see ``User.session_epoch``)."""
    email = email.strip().lower()
    if "@" not in email:
        raise AccountError(gettext("not an e-mail address: %(email)s", email=repr(email)))
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            gettext("the password needs at least %(count)s characters", count=MIN_PASSWORD_LENGTH)
        )
    Role(role)
    user = db.session.scalar(db.select(User).where(User.email == email))
    created = user is None
    if user is None:
        user = uow.add(User(email=email, display_name=display_name or email.split("@")[0]))
    elif display_name:
        user.display_name = display_name
    user.role = role
    user.set_password(password)
    uow.flush()
    return user, created


def token_expiry(days: int | None) -> datetime | None:
    """When a token issued now stops working (``None``: never)."""
    if days is None:
        from webapp.services import backends

        days = backends.settings().api_token_days
    return utcnow() + timedelta(days=days) if days and days > 0 else None


def issue_token(
    uow: UnitOfWork, email: str, label: str = "", days: int | None = None
) -> tuple[ApiToken, str]:
    """A new API token for the user with ``email``; the clear token is returned once."""
    user = db.session.scalar(db.select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise AccountError(f"no user with e-mail {email}")
    return issue_token_for(uow, user, label, days)


def issue_token_for(
    uow: UnitOfWork, user: User, label: str = "", days: int | None = None
) -> tuple[ApiToken, str]:
    row, token = ApiToken.issue(user, (label or "")[:120], token_expiry(days))
    uow.add(row)
    uow.flush()
    audit.record("token.issued", "user", user.id, actor=user, details={"token_id": row.id})
    return row, token


def tokens_of(user: User) -> list[ApiToken]:
    return db.session.scalars(
        db.select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    ).all()


def all_tokens(email: str | None = None) -> list[ApiToken]:
    query = db.select(ApiToken).join(ApiToken.user).order_by(ApiToken.id.desc())
    if email:
        query = query.where(User.email == email.strip().lower())
    return db.session.scalars(query).all()


def revoke_token(uow: UnitOfWork, actor: User | None, token_id: int) -> ApiToken:
    """Revoke a token: its owner may, and an admin may revoke anyone's (or the CLI, no actor)."""
    row = db.session.get(ApiToken, token_id)
    allowed = actor is None or (
        row is not None and (row.user_id == actor.id or actor.has_role(Role.ADMIN))
    )
    if row is None or not allowed:
        raise NotFound(gettext("no such token"))
    if not row.revoked:
        row.revoked = True
        row.revoked_at = utcnow()
        audit.record(
            "token.revoked", "user", row.user_id, actor=actor, details={"token_id": row.id}
        )
    uow.flush()
    return row


def find_token(token: str) -> ApiToken | None:
    """The API token row for a clear bearer token (looked up by its SHA-256), or ``None``."""
    return db.session.scalar(
        db.select(ApiToken).where(ApiToken.token_sha256 == ApiToken.digest(token))
    )


def token_use_is_due(row: ApiToken) -> bool:
    """Whether ``row.last_used_at`` is older than ``TOKEN_USE_RESOLUTION``: it is written at
    most that often, so a busy integration does not cost one write per API call."""
    last = _aware(row.last_used_at)
    return last is None or utcnow() - last > TOKEN_USE_RESOLUTION


def record_token_use(uow: UnitOfWork, row: ApiToken) -> None:
    row.last_used_at = utcnow()
    uow.flush()


def token_is_valid(row: ApiToken | None) -> bool:
    if row is None or row.revoked or not row.user.active:
        return False
    expires = _aware(row.expires_at)
    return expires is None or expires > utcnow()


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def check_credentials(user: User | None, password: str) -> User:
    """Return the user if the password is right and the account active.

    Always does one scrypt check, against a dummy hash when there is no account (or no
    password), so the time taken does not tell an unknown name from a wrong password; the
    error is the same in every case. Throttling is the caller's (``webapp.auth``).
    """
    if user is not None and user.password_hash:
        right = user.check_password(password or "")
    else:
        check_password_hash(_dummy_password_hash(), password or "")  # same work, no answer
        right = False
    if user is None or not right or not user.active:
        raise AuthenticationRequired(WRONG_CREDENTIALS)
    return user


def get_user(user_id: int) -> User | None:
    """The user with this id, or ``None`` (the session loader checks the rest)."""
    return db.session.get(User, user_id)


def find_by_email(email: str) -> User | None:
    email = (email or "").strip().lower()
    return db.session.scalar(db.select(User).where(User.email == email)) if email else None


def authenticate(email: str, password: str) -> User:
    """The e-mail + password check (teachers, archivists, admins, association members)."""
    return check_credentials(find_by_email(email), password)


def record_login(uow: UnitOfWork, user: User) -> None:
    user.last_login_at = utcnow()
    uow.flush()


def end_sessions(uow: UnitOfWork, user: User) -> None:
    """Log the user out everywhere (every cookie issued so far stops working).

    ``user`` may be the request's current user, loaded before this action began: it is merged
    into the session first, so the change is part of this unit of work."""
    user = db.session.merge(user)
    user.end_sessions()
    uow.flush()


def change_password(uow: UnitOfWork, user: User, current: str, new: str) -> None:
    """The user sets a new password; every other session of theirs ends."""
    check_credentials(user, current)
    if len(new or "") < MIN_PASSWORD_LENGTH:
        raise BadRequest(
            f"the new password needs at least {MIN_PASSWORD_LENGTH} characters", field="new"
        )
    user.set_password(new)
    audit.record("user.password_changed", "user", user.id, actor=user)
    uow.flush()


def set_active(uow: UnitOfWork, admin: User | None, user_id: int, active: bool) -> User:
    """An admin deactivates (or reactivates) an account; deactivation ends its sessions and
    its API tokens stop working."""
    if admin is None or not admin.has_role(Role.ADMIN):
        raise Forbidden(gettext("only administrators can deactivate accounts"))
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(gettext("no such user"))
    if user.id == admin.id and not active:
        raise BadRequest(gettext("you cannot deactivate your own account"))
    user.active = active
    audit.record("user.activated" if active else "user.deactivated", "user", user.id, actor=admin)
    uow.flush()
    return user


def set_role(uow: UnitOfWork, admin: User | None, user_id: int, role: str) -> User:
    """An admin changes someone's role; their sessions end (they log in with the new role)."""
    if admin is None or not admin.has_role(Role.ADMIN):
        raise Forbidden(gettext("only administrators can change roles"))
    user = db.session.get(User, user_id)
    if user is None or user.is_student:
        raise NotFound(gettext("no such user"))
    try:
        Role(role)
    except ValueError as exc:
        raise BadRequest(gettext("choose a role"), field="role") from exc
    if user.role != role:
        audit.record("user.role_changed", "user", user.id, actor=admin, details={"role": role})
        user.role = role
    uow.flush()
    return user


def users_for_admin() -> list[User]:
    """Accounts with an e-mail address (students are managed by their teachers)."""
    return db.session.scalars(
        db.select(User).where(User.email.is_not(None)).order_by(User.email)
    ).all()


def all_organisations() -> list[Organisation]:
    """Every organisation, by name (the admin page and the archive queue's filter)."""
    return db.session.scalars(db.select(Organisation).order_by(Organisation.name)).all()


def find_organisation(organisation_id: int) -> Organisation | None:
    return db.session.get(Organisation, organisation_id)


def create_organisation(uow: UnitOfWork, admin: User | None, name: str, kind: str) -> Organisation:
    if admin is None or not admin.has_role(Role.ADMIN):
        raise Forbidden(gettext("only administrators can create organisations"))
    name = " ".join((name or "").split())
    if not name:
        raise BadRequest(gettext("give the organisation a name"), field="name")
    if kind not in {k.value for k in OrganisationKind}:
        raise BadRequest(gettext("kind must be school, association or archive"), field="kind")
    if db.session.scalar(db.select(Organisation.id).where(Organisation.name == name)):
        raise BadRequest(
            gettext("an organisation called “%(name)s” already exists", name=name), field="name"
        )
    org = uow.add(Organisation(name=name[:200], kind=kind))
    uow.flush()
    audit.record("organisation.created", "organisation", org.id, actor=admin)
    return org


def invite(
    uow: UnitOfWork, admin: User | None, email: str, role: str, organisation_id: int | None
) -> str:
    """Create an invitation and return its secret token (put it in the link, shown once)."""
    if admin is None or not admin.has_role(Role.ADMIN):
        raise Forbidden(gettext("only administrators can invite people"))
    email = (email or "").strip().lower()
    if "@" not in email:
        raise BadRequest(gettext("write the person's e-mail address"), field="email")
    if role not in (
        Role.TEACHER.value,
        Role.ARCHIVIST.value,
        Role.ADMIN.value,
        Role.CONTRIBUTOR.value,
    ):
        raise BadRequest(gettext("choose a role"), field="role")
    if organisation_id is not None and db.session.get(Organisation, organisation_id) is None:
        raise BadRequest(gettext("no such organisation"), field="organisation_id")
    token = secrets.token_urlsafe(24)
    row = Invitation(
        token_sha256=hashlib.sha256(token.encode()).hexdigest(),
        email=email,
        role=role,
        organisation_id=organisation_id,
        invited_by_id=admin.id,
        expires_at=utcnow() + timedelta(days=INVITATION_DAYS),
    )
    uow.add(row)
    uow.flush()
    audit.record(
        "invitation.created",
        "invitation",
        row.id,
        actor=admin,
        details={"role": role, "organisation_id": organisation_id},
    )
    return token


def find_invitation(token: str) -> Invitation:
    row = db.session.scalar(
        db.select(Invitation).where(
            Invitation.token_sha256 == hashlib.sha256((token or "").encode()).hexdigest()
        )
    )
    if row is None or row.used_at is not None or _aware(row.expires_at) < utcnow():
        raise NotFound(gettext("this invitation link is not valid any more; ask for a new one"))
    return row


def accept_invitation(uow: UnitOfWork, token: str, display_name: str, password: str) -> User:
    row = find_invitation(token)
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise BadRequest(
            f"the password needs at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    display_name = " ".join((display_name or "").split()) or row.email.split("@")[0]
    user = db.session.scalar(db.select(User).where(User.email == row.email))
    if user is None:
        user = uow.add(User(email=row.email, display_name=display_name[:120]))
    user.role = row.role
    user.organisation_id = row.organisation_id
    user.set_password(password)
    row.used_at = utcnow()
    uow.flush()
    audit.record("invitation.accepted", "user", user.id, actor=user)
    return user
