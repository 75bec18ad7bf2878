"""Write events into the outbox, inside the caller's transaction.

An event is a row first: it commits or rolls back together with the change that caused it, so no
change is ever committed without its follow-up work, and no follow-up work runs for a change that
was rolled back. Never enqueue to Redis from here; the relay (``workers.relay``) does that. Never
commit here either: the caller's unit of work does.
"""

from __future__ import annotations

from typing import Any

from schemas import validate_event
from webapp.extensions import db
from webapp.models import OutboxEvent


class InvalidEventPayload(ValueError):
    pass


def emit(event_type: str, payload: dict[str, Any]) -> OutboxEvent:
    """Add an event to the current session; the caller's unit of work commits it with the change.

    The event's ``story_id`` column is set from the payload, so a story's events are found by an
    index (erasure scrubs them) rather than by reading every payload.
    """
    problems = validate_event(event_type, payload)
    if problems:
        raise InvalidEventPayload(f"{event_type}: " + "; ".join(p.message for p in problems))
    story_id = payload.get("story_id")
    event = OutboxEvent(
        event_type=event_type,
        payload=payload,
        story_id=story_id if isinstance(story_id, int) else None,
    )
    db.session.add(event)
    return event
