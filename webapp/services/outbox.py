"""Write events into the outbox, inside the caller's transaction.

An event is a row first: it commits or rolls back together with the change that caused it, so no
change is ever committed without its follow-up work, and no follow-up work runs for a change that
was rolled back. Never enqueue to Redis from here; the relay (``workers.relay``) does that.
"""

from __future__ import annotations

from typing import Any

from schemas import validate_event
from webapp.extensions import db
from webapp.models import OutboxEvent


class InvalidEventPayload(ValueError):
    pass


def emit(event_type: str, payload: dict[str, Any]) -> OutboxEvent:
    """Add an event to the current session; the caller's commit publishes it."""
    problems = validate_event(event_type, payload)
    if problems:
        raise InvalidEventPayload(f"{event_type}: " + "; ".join(p.message for p in problems))
    event = OutboxEvent(event_type=event_type, payload=payload)
    db.session.add(event)
    return event
