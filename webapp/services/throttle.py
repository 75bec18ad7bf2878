"""Login throttling: per account name and per client address, exponential back-off, atomic
counters in the database.

It replaces the old hard lockout, which let anyone lock any account (the admin's included) for
good, and whose read-modify-write counter let parallel guesses through. Here each attempt is
counted *before* the password is checked, by one ``UPDATE … RETURNING`` that only succeeds while
the key is not blocked; the attempt that reaches ``free`` failures sets a block of ``penalty``
seconds, and every later one doubles it up to a cap. Because the count and the block are one
statement, however many requests arrive at once, no more than ``free`` guesses are checked
before the first block. A success resets the account's counter and gives back the address's.

The key of an account is the name that was typed, whether or not such an account exists, so a
throttled unknown name answers exactly like a throttled real one. The counters live in SQL, not
Redis, so logins keep working (and stay throttled) when the broker is down.

Services here never commit: the caller opens a unit of work per step (``webapp.auth``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy import text

from webapp.errors import PassagesError
from webapp.extensions import db
from webapp.models import LoginThrottle
from webapp.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


class LoginThrottled(PassagesError):
    """Too many failed attempts for this name or from this address: wait ``retry_after``."""

    status = 429
    code = "too_many_attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many attempts: wait {retry_after} seconds before trying again",
        )
        self.retry_after = max(1, int(retry_after))

    def to_json(self) -> dict:
        body = super().to_json()
        body["error"]["retry_after"] = self.retry_after
        return body


@dataclass(frozen=True)
class Rule:
    """One throttled key and its allowance."""

    key: str
    free: int
    base: int
    cap: int


def account_key(name: str) -> str:
    return "account:" + " ".join((name or "").split()).casefold()[:380]


def address_key(address: str | None) -> str:
    return "address:" + (address or "unknown")[:380]


_ENSURE = text(
    "INSERT INTO login_throttles (key, failures, penalty, blocked_until, updated_at) "
    "VALUES (:key, 0, 0, 0, :now) ON CONFLICT (key) DO NOTHING"
)

# Counts the attempt only while the key is not blocked; the attempt that reaches ``free``
# failures (and each one after it) starts or doubles the back-off. SET expressions read the
# row's values from before the update, on SQLite and PostgreSQL alike.
_PENALTY = (
    "CASE WHEN failures + 1 < :free THEN penalty "
    "WHEN penalty = 0 THEN :base "
    "WHEN penalty * 2 > :cap THEN :cap ELSE penalty * 2 END"
)
_COUNT = text(
    "UPDATE login_throttles SET failures = failures + 1, "
    f"penalty = {_PENALTY}, "
    "blocked_until = CASE WHEN failures + 1 < :free THEN blocked_until "
    f"ELSE :now + {_PENALTY} END, "
    "updated_at = :now "
    "WHERE key = :key AND blocked_until <= :now "
    "RETURNING failures"
)


def count_attempt(uow: UnitOfWork, rules: list[Rule], now: int | None = None) -> None:
    """Count one login attempt against every rule, in order, or raise ``LoginThrottled``.

    Commit the unit of work before checking the password: the count must stand even if the
    request dies afterwards. A blocked key is not counted again (waiting is enough to get a
    new attempt), and the keys after it are left alone.
    """
    now = int(time.time()) if now is None else now
    for rule in rules:
        uow.session.execute(_ENSURE, {"key": rule.key, "now": now})
        counted = uow.session.execute(
            _COUNT,
            {"key": rule.key, "now": now, "free": rule.free, "base": rule.base, "cap": rule.cap},
        ).first()
        if counted is None:
            blocked_until = uow.session.scalar(
                db.select(LoginThrottle.blocked_until).where(LoginThrottle.key == rule.key)
            )
            log.info("login attempt refused: %s is throttled", rule.key.split(":", 1)[0])
            raise LoginThrottled(int(blocked_until or now) - now)


def succeeded(uow: UnitOfWork, account: Rule, address: Rule | None = None) -> None:
    """A right password: the account starts afresh; the address gets this attempt back."""
    uow.session.execute(
        db.update(LoginThrottle)
        .where(LoginThrottle.key == account.key)
        .values(failures=0, penalty=0, blocked_until=0)
    )
    if address is not None:
        uow.session.execute(
            db.update(LoginThrottle)
            .where(LoginThrottle.key == address.key, LoginThrottle.failures > 0)
            .values(failures=LoginThrottle.failures - 1)
        )


def throttled(now: int | None = None) -> list[LoginThrottle]:
    """Keys under a back-off right now, or with failures counted (for the admin page)."""
    now = int(time.time()) if now is None else now
    return db.session.scalars(
        db.select(LoginThrottle)
        .where((LoginThrottle.blocked_until > now) | (LoginThrottle.failures > 0))
        .order_by(LoginThrottle.blocked_until.desc(), LoginThrottle.key)
        .limit(500)
    ).all()


def release(uow: UnitOfWork, key: str) -> bool:
    """An admin lifts a back-off (the person called, the school's address was blocked…)."""
    row = uow.session.get(LoginThrottle, key)
    if row is None:
        return False
    uow.session.delete(row)
    return True
