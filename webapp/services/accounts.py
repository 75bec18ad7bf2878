"""People, organisations, invitations, API tokens and the login check with its lockout.

Used by the CLI, the admin pages and the login forms. Passwords are hashed with Werkzeug's scrypt;
after ``MAX_FAILURES`` wrong attempts an account refuses logins for ``LOCK_MINUTES`` whatever the
password, which makes guessing a student's short access code impractical. This module never
stores a secret in clear (invitation and API tokens are kept as SHA-256) and never says whether
an account exists.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import UTC, datetime, timedelta

from webapp.errors import AuthenticationRequired, BadRequest, Forbidden, NotFound
from webapp.extensions import db
from webapp.models import ApiToken, Invitation, Organisation, OrganisationKind, Role, User, utcnow
from webapp.services import audit

log = logging.getLogger(__name__)


class AccountError(ValueError):
    pass


MIN_PASSWORD_LENGTH = 8
MAX_FAILURES = 5
LOCK_MINUTES = 15
INVITATION_DAYS = 14
WRONG_CREDENTIALS = "wrong name or password"


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


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def check_credentials(user: User | None, password: str) -> User:
    """Return the user if the password is right and the account not locked; count failures.

    Commits (the failure counter must survive the refused request). The error never tells
    whether the account exists.
    """
    if user is None or not user.active:
        raise AuthenticationRequired(WRONG_CREDENTIALS)
    now = utcnow()
    locked_until = _aware(user.locked_until)
    if locked_until is not None and locked_until > now:
        minutes = max(1, int((locked_until - now).total_seconds() // 60) + 1)
        raise AuthenticationRequired(
            f"too many wrong attempts: try again in {minutes} minutes, or ask your teacher"
        )
    if not user.check_password(password or ""):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
            user.failed_logins = 0
            audit.record("user.locked", "user", user.id, actor=None)
            log.warning("user %s locked after %d failed logins", user.id, MAX_FAILURES)
        db.session.commit()
        raise AuthenticationRequired(WRONG_CREDENTIALS)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User:
    """The e-mail + password login (teachers, archivists, admins, association members)."""
    email = (email or "").strip().lower()
    user = db.session.scalar(db.select(User).where(User.email == email)) if email else None
    return check_credentials(user, password)


def create_organisation(admin: User | None, name: str, kind: str) -> Organisation:
    if admin is None or not admin.has_role(Role.ADMIN):
        raise Forbidden("only administrators can create organisations")
    name = " ".join((name or "").split())
    if not name:
        raise BadRequest("give the organisation a name", field="name")
    if kind not in {k.value for k in OrganisationKind}:
        raise BadRequest("kind must be school, association or archive", field="kind")
    if db.session.scalar(db.select(Organisation.id).where(Organisation.name == name)):
        raise BadRequest(f"an organisation called “{name}” already exists", field="name")
    org = Organisation(name=name[:200], kind=kind)
    db.session.add(org)
    db.session.flush()
    audit.record("organisation.created", "organisation", org.id, actor=admin)
    db.session.commit()
    return org


def invite(admin: User | None, email: str, role: str, organisation_id: int | None) -> str:
    """Create an invitation and return its secret token (put it in the link, shown once)."""
    if admin is None or not admin.has_role(Role.ADMIN):
        raise Forbidden("only administrators can invite people")
    email = (email or "").strip().lower()
    if "@" not in email:
        raise BadRequest("write the person's e-mail address", field="email")
    if role not in (
        Role.TEACHER.value,
        Role.ARCHIVIST.value,
        Role.ADMIN.value,
        Role.CONTRIBUTOR.value,
    ):
        raise BadRequest("choose a role", field="role")
    if organisation_id is not None and db.session.get(Organisation, organisation_id) is None:
        raise BadRequest("no such organisation", field="organisation_id")
    token = secrets.token_urlsafe(24)
    row = Invitation(
        token_sha256=hashlib.sha256(token.encode()).hexdigest(),
        email=email,
        role=role,
        organisation_id=organisation_id,
        invited_by_id=admin.id,
        expires_at=utcnow() + timedelta(days=INVITATION_DAYS),
    )
    db.session.add(row)
    db.session.flush()
    audit.record(
        "invitation.created",
        "invitation",
        row.id,
        actor=admin,
        details={"role": role, "organisation_id": organisation_id},
    )
    db.session.commit()
    return token


def find_invitation(token: str) -> Invitation:
    row = db.session.scalar(
        db.select(Invitation).where(
            Invitation.token_sha256 == hashlib.sha256((token or "").encode()).hexdigest()
        )
    )
    if row is None or row.used_at is not None or _aware(row.expires_at) < utcnow():
        raise NotFound("this invitation link is not valid any more; ask for a new one")
    return row


def accept_invitation(token: str, display_name: str, password: str) -> User:
    row = find_invitation(token)
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise BadRequest(
            f"the password needs at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    display_name = " ".join((display_name or "").split()) or row.email.split("@")[0]
    user = db.session.scalar(db.select(User).where(User.email == row.email))
    if user is None:
        user = User(email=row.email, display_name=display_name[:120])
        db.session.add(user)
    user.role = row.role
    user.organisation_id = row.organisation_id
    user.set_password(password)
    row.used_at = utcnow()
    db.session.flush()
    audit.record("invitation.accepted", "user", user.id, actor=user)
    db.session.commit()
    return user
