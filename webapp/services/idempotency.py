"""Idempotency keys: a retried request gets the first answer instead of doing the work twice.

A client that sent ``POST /api/v1/stories`` and lost the answer (timeout, crash between the
commit and the response) cannot know whether the story exists. With an ``Idempotency-Key``
header (and the ``/submit`` form's hidden ``idempotency_key`` field) it can simply send the same
request again: within 24 hours, the same key from the same caller returns the stored first answer
— same status, same body — and creates nothing.

The record is added to the action's unit of work, so it commits in the same transaction as the
story: either both exist or neither. Two identical requests racing each other both do the work,
but the unique (caller, key) constraint lets only one commit; the other rolls back (its objects
are cleaned up like any failed submission) and answers with the winner's stored answer. The same
key with a different request (another body or other images) is refused with 422: reusing a key
for new content is a client bug that must not silently return someone else's answer.

This module never commits and never decides what the answer is; views hand it in.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from flask import session

from webapp.errors import BadRequest, PassagesError
from webapp.extensions import db
from webapp.models import IdempotencyRecord, User, utcnow
from webapp.unit_of_work import UnitOfWork

#: How long the first answer is kept and replayed.
TTL = timedelta(hours=24)
HEADER = "Idempotency-Key"
FORM_FIELD = "idempotency_key"
_KEY = re.compile(r"[\x21-\x7e]{1,255}")


class IdempotencyKeyReused(PassagesError):
    """The key was already used by this caller for a different request."""

    status = 422
    code = "idempotency_key_reused"


def check_key(raw: str | None, field: str = HEADER) -> str | None:
    """Return the key, ``None`` if absent, or raise 400 when it cannot be a key."""
    if raw is None or raw == "":
        return None
    if not _KEY.fullmatch(raw):
        raise BadRequest(
            f"{field} must be 1 to 255 visible ASCII characters (a UUID is a good choice)",
            field=field,
        )
    return raw


def caller_for(user: User | None) -> str:
    """Who is asking: the account, or (without one) this browser's session."""
    if user is not None:
        return f"user:{user.id}"
    if "idempotency_caller" not in session:
        session["idempotency_caller"] = secrets.token_urlsafe(16)
    return f"session:{session['idempotency_caller']}"


def stream_digest(stream: Any) -> str:
    """SHA-256 of an uploaded file's bytes, leaving the stream at its start for the next reader."""
    digest = hashlib.sha256()
    stream.seek(0)
    while chunk := stream.read(1024 * 1024):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def fingerprint(*parts: str | bytes | Iterable[str]) -> str:
    """SHA-256 over the request's parts, each length-prefixed so boundaries cannot shift."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, str):
            part = part.encode("utf-8")
        elif not isinstance(part, bytes):
            part = "\x1f".join(part).encode("utf-8")
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def find(caller: str, key: str, request_fingerprint: str) -> IdempotencyRecord | None:
    """The stored first answer for this caller and key (within 24 h), or ``None``.

    Raises :class:`IdempotencyKeyReused` when the key was used for a different request.
    """
    record = db.session.scalar(
        db.select(IdempotencyRecord).where(
            IdempotencyRecord.caller == caller,
            IdempotencyRecord.key == key,
            IdempotencyRecord.created_at >= utcnow() - TTL,
        )
    )
    if record is not None and record.fingerprint != request_fingerprint:
        raise IdempotencyKeyReused(
            f"the {HEADER} {key!r} was already used for a different request in the last 24 "
            "hours; use a new key for new content",
            field=HEADER,
        )
    return record


def remember(
    uow: UnitOfWork,
    caller: str,
    key: str,
    request_fingerprint: str,
    status_code: int,
    response: dict[str, Any],
    story_id: int | None = None,
) -> None:
    """Add the first answer to ``uow``: it commits with what the request created, or not at all.

    An expired record of the same key is removed in the same transaction, so a key may be reused
    after 24 hours.
    """
    uow.session.execute(
        db.delete(IdempotencyRecord).where(
            IdempotencyRecord.caller == caller,
            IdempotencyRecord.key == key,
            IdempotencyRecord.created_at < utcnow() - TTL,
        )
    )
    uow.add(
        IdempotencyRecord(
            caller=caller,
            key=key,
            fingerprint=request_fingerprint,
            status_code=status_code,
            response=response,
            story_id=story_id,
        )
    )


def prune(uow: UnitOfWork, older_than: timedelta = TTL) -> int:
    """Delete records past their 24 hours (the scheduled leftover collector does it)."""
    result = uow.session.execute(
        db.delete(IdempotencyRecord).where(IdempotencyRecord.created_at < utcnow() - older_than)
    )
    return result.rowcount or 0
