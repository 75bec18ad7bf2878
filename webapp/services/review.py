"""The story workflow: which transitions exist, who may make them, and what each one emits.

Every status change goes through ``transition``; it checks the table below, records the change in
the audit log and emits ``story.<new status>`` in the same transaction. An archivist's "approve"
decision publishes at once (approved → published) until publication gets its own checks.
"""

from __future__ import annotations

from webapp.errors import BadRequest, NotFound, TransitionNotAllowed
from webapp.extensions import db
from webapp.models import Story, StoryStatus, User, utcnow
from webapp.services import access, audit, outbox

S = StoryStatus

#: (from status, action) → to status
TRANSITIONS: dict[tuple[StoryStatus, str], StoryStatus] = {
    (S.SUBMITTED, "start_review"): S.IN_REVIEW,
    (S.SUBMITTED, "approve"): S.APPROVED,
    (S.IN_REVIEW, "approve"): S.APPROVED,
    (S.CHANGES_REQUESTED, "approve"): S.APPROVED,
    (S.SUBMITTED, "reject"): S.REJECTED,
    (S.IN_REVIEW, "reject"): S.REJECTED,
    (S.CHANGES_REQUESTED, "reject"): S.REJECTED,
    (S.APPROVED, "reject"): S.REJECTED,
    (S.APPROVED, "publish"): S.PUBLISHED,
    (S.APPROVED, "withdraw"): S.WITHDRAWN,
    (S.PUBLISHED, "withdraw"): S.WITHDRAWN,
}

#: Events emitted on arrival in a status (others emit nothing yet).
EVENT_ON_ARRIVAL = {
    S.APPROVED: "story.approved",
    S.PUBLISHED: "story.published",
    S.REJECTED: "story.rejected",
    S.WITHDRAWN: "story.withdrawn",
}

DECISIONS = ("approve", "reject")


def transition(story: Story, action: str, actor: User | None, note: str | None = None) -> Story:
    """Apply one transition in the current session (the caller commits)."""
    current = S(story.status)
    target = TRANSITIONS.get((current, action))
    if target is None:
        allowed = sorted(a for (s, a) in TRANSITIONS if s == current) or ["none"]
        raise TransitionNotAllowed(
            f"cannot {action.replace('_', ' ')} a story that is {current.value.replace('_', ' ')}"
            f" (possible now: {', '.join(allowed)})",
            field="decision",
        )
    story.status = target.value
    if target == S.PUBLISHED:
        story.published_at = utcnow()
    audit.record(
        f"story.{action}",
        "story",
        story.id,
        actor=actor,
        note=note,
        details={"from": current.value, "to": target.value},
    )
    event = EVENT_ON_ARRIVAL.get(target)
    if event:
        outbox.emit(
            event, {"story_id": story.id, "actor_id": actor.id if actor else None, "note": note}
        )
    return story


def review(story_id: int, decision: str, note: str | None, actor: User | None) -> Story:
    """An archivist's decision on a submitted story, committed with its events."""
    access.require_archivist(actor)
    if decision not in DECISIONS:
        raise BadRequest('decision must be "approve" or "reject"', field="decision")
    if note is not None and not isinstance(note, str):
        raise BadRequest("note must be text", field="note")
    story = db.session.get(Story, story_id, with_for_update=True)
    if story is None:
        raise NotFound("no such story")
    try:
        transition(story, decision, actor, note)
        if decision == "approve":
            transition(story, "publish", actor, None)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return story


def withdraw(story_id: int, note: str | None, actor: User | None) -> Story:
    access.require_archivist(actor)
    story = db.session.get(Story, story_id, with_for_update=True)
    if story is None:
        raise NotFound("no such story")
    try:
        transition(story, "withdraw", actor, note)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return story
