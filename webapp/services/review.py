"""The story workflow: which transitions exist, who may make them, and what each one emits.

Every status change goes through ``transition``: it checks the table below (from status, action →
to status), checks that the actor may make that move on that story, refuses publication while
``consent.publication_blockers`` says no, records the change in the audit log, emits an event and
queues notifications — all in the caller's unit of work, which commits them as one transaction
(this module never commits). ``apply`` is the one entry point for views; ``review`` and
``withdraw`` keep the API's older calls working. Nothing else in the code base may assign
``Story.status``.

A story whose recorded person withdraws consent after publication goes back to the archive
review (``consent_withdrawn``, a consequence of recording the consent, never a button): at once
out of public view, in the archivists' queue, and blocked from publication until the consent is
given again or the recording is removed. Not withdrawn: that is final, and the archivist decides.

The path: draft ⇄ submitted (the author may take back a story nobody has looked at yet) →
(teacher: returned ↔ resubmitted, or forwarded) → in archive review → (changes requested ↔
resubmitted) → approved → published; rejected and withdrawn from most states. An archivist may
take up a submitted story without a teacher (associations, the public).
"""

from __future__ import annotations

import enum
import logging

from flask_babel import gettext
from flask_babel import gettext as _

from webapp import labels
from webapp.errors import BadRequest, Forbidden, NotFound, TransitionNotAllowed
from webapp.extensions import db
from webapp.models import Story, StoryStatus, User, utcnow
from webapp.services import access, audit, consent, notifications, outbox
from webapp.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

S = StoryStatus


class Actor(enum.StrEnum):
    """In what capacity someone may make a move on a given story."""

    OWNER = "owner"  # who submitted it
    TEACHER = "teacher"  # its class's teacher (or the organisation's coordinator)
    ARCHIVIST = "archivist"  # archivists and admins


#: (from status, action) → to status. The whole workflow; nothing else changes a status.
TRANSITIONS: dict[tuple[StoryStatus, str], StoryStatus] = {
    (S.DRAFT, "submit"): S.SUBMITTED,
    (S.SUBMITTED, "recall"): S.DRAFT,
    (S.SUBMITTED, "return"): S.RETURNED,
    (S.RETURNED, "resubmit"): S.SUBMITTED,
    (S.SUBMITTED, "forward"): S.IN_REVIEW,
    (S.SUBMITTED, "start_review"): S.IN_REVIEW,
    (S.IN_REVIEW, "request_changes"): S.CHANGES_REQUESTED,
    (S.CHANGES_REQUESTED, "resubmit"): S.IN_REVIEW,
    (S.IN_REVIEW, "approve"): S.APPROVED,
    (S.CHANGES_REQUESTED, "approve"): S.APPROVED,
    (S.APPROVED, "publish"): S.PUBLISHED,
    (S.SUBMITTED, "reject"): S.REJECTED,
    (S.RETURNED, "reject"): S.REJECTED,
    (S.IN_REVIEW, "reject"): S.REJECTED,
    (S.CHANGES_REQUESTED, "reject"): S.REJECTED,
    (S.APPROVED, "reject"): S.REJECTED,
    # Not a button: the consent of a person recorded was withdrawn (or a guardian's is now
    # missing) while the story was public (``consent.record_recording_consent``).
    (S.PUBLISHED, "consent_withdrawn"): S.IN_REVIEW,
    **{
        (status, "withdraw"): S.WITHDRAWN
        for status in (
            S.SUBMITTED,
            S.RETURNED,
            S.IN_REVIEW,
            S.CHANGES_REQUESTED,
            S.APPROVED,
            S.PUBLISHED,
            S.REJECTED,
        )
    },
}

#: Who may make each move. Teachers moderate first but can never approve nor publish.
WHO: dict[str, frozenset[Actor]] = {
    "submit": frozenset({Actor.OWNER}),
    "recall": frozenset({Actor.OWNER}),
    "resubmit": frozenset({Actor.OWNER}),
    "return": frozenset({Actor.TEACHER, Actor.ARCHIVIST}),
    "forward": frozenset({Actor.TEACHER, Actor.ARCHIVIST}),
    "start_review": frozenset({Actor.ARCHIVIST}),
    "request_changes": frozenset({Actor.ARCHIVIST}),
    "approve": frozenset({Actor.ARCHIVIST}),
    "publish": frozenset({Actor.ARCHIVIST}),
    "reject": frozenset({Actor.ARCHIVIST}),
    "withdraw": frozenset({Actor.ARCHIVIST}),
    # Whoever may record a recording's consent (the contributor, a teacher, an archivist).
    "consent_withdrawn": frozenset({Actor.OWNER, Actor.TEACHER, Actor.ARCHIVIST}),
}

#: Moves that follow from another action and are never offered or applied by themselves.
CONSEQUENCES = frozenset({"consent_withdrawn"})

#: The event each move emits (payload ``{"story_id", "actor_id", "note"}``; see schemas/events).
EVENT_OF_ACTION = {
    "recall": "story.recalled",
    "return": "story.returned",
    "resubmit": "story.resubmitted",
    "forward": "story.forwarded",
    "start_review": "story.review_started",
    "request_changes": "story.changes_requested",
    "approve": "story.approved",
    "publish": "story.published",
    "reject": "story.rejected",
    "withdraw": "story.withdrawn",
    "consent_withdrawn": "story.consent_withdrawn",
}

# The words people read for each move are in ``webapp.labels.ACTION`` (translated).

DECISIONS = ("approve", "reject", "request_changes", "publish")


def capacities(user: User | None, story: Story) -> set[Actor]:
    if user is None:
        return set()
    found = set()
    if access.is_owner(user, story):
        found.add(Actor.OWNER)
    if access.is_teacher_of(user, story):
        found.add(Actor.TEACHER)
    if user.is_staff:
        found.add(Actor.ARCHIVIST)
    return found


def possible_actions(story: Story, user: User | None) -> list[str]:
    """The moves this person can make on this story now (for buttons and error messages)."""
    mine = capacities(user, story)
    current = S(story.status)
    return [
        action
        for (status, action) in TRANSITIONS
        if status == current and WHO[action] & mine and action not in CONSEQUENCES
    ]


def transition(
    story: Story, action: str, actor: User | None, note: str | None = None, *, audited: bool = True
) -> Story:
    """Apply one move in the caller's unit of work (which commits it).

    ``audited=False`` is for a move that is one step of a larger action whose caller writes the
    action's single audit entry (``review``'s "approve" = start review + approve + publish).
    """
    if action not in WHO:
        raise BadRequest(_("unknown action %(action)s", action=repr(action)), field="decision")
    current = S(story.status)
    target = TRANSITIONS.get((current, action))
    if target is None:
        allowed = sorted(a for (s, a) in TRANSITIONS if s == current and a not in CONSEQUENCES)
        raise TransitionNotAllowed(
            _(
                "“%(action)s” is not possible for a story whose status is “%(status)s”"
                " (possible now: %(allowed)s).",
                action=labels.label(action, "action"),
                status=labels.label(current, "status"),
                allowed=", ".join(labels.label(a, "action") for a in allowed) or _("none"),
            ),
            field="decision",
        )
    if not WHO[action] & capacities(actor, story):
        raise Forbidden(
            _("You are not allowed to do “%(action)s” on this story.",
              action=labels.label(action, "action"))
        )  # fmt: skip
    if target == S.PUBLISHED:
        blockers = consent.publication_blockers(story)
        if blockers:
            raise TransitionNotAllowed(
                _("this story cannot be published yet: %(reasons)s", reasons="; ".join(blockers)),
                field="decision",
            )
    story.status = target.value
    if target == S.PUBLISHED:
        story.published_at = utcnow()
    if audited:
        audit.record(
            f"story.{action}",
            "story",
            story.id,
            actor=actor,
            note=note,
            details={"from": current.value, "to": target.value},
        )
    payload = {"story_id": story.id, "actor_id": actor.id if actor else None, "note": note}
    if action == "submit":
        outbox.emit(
            "story.submitted", {"story_id": story.id, "media_ids": [m.id for m in story.media]}
        )
    else:
        outbox.emit(EVENT_OF_ACTION[action], payload)
    notifications.story_moved(story, action, note, actor)
    log.info("story %s: %s (%s → %s)", story.id, action, current.value, target.value)
    return story


def _load(story_id: int) -> Story:
    story = db.session.get(Story, story_id, with_for_update=True)
    if story is None:
        raise NotFound(gettext("no such story"))
    return story


def _check_note(note: object) -> str | None:
    if note is not None and not isinstance(note, str):
        raise BadRequest(gettext("note must be text"), field="note")
    return (note or "").strip() or None


def apply(
    uow: UnitOfWork, story_id: int, action: str, actor: User | None, note: str | None = None
) -> Story:
    """One move by one person, added to ``uow`` with its audit entry, event and notifications."""
    note = _check_note(note)
    story = _load(story_id)
    if not access.can_view(story, actor):
        raise NotFound(gettext("no such story"))
    if action in CONSEQUENCES:
        raise BadRequest(_("unknown action %(action)s", action=repr(action)), field="decision")
    return transition(story, action, actor, note)


def review(
    uow: UnitOfWork, story_id: int, decision: str, note: str | None, actor: User | None
) -> Story:
    """An archivist's decision (API ``POST /stories/<id>/review``, bulk moderation).

    "approve" takes a submitted story through the archive review, approves it and publishes it
    at once unless something blocks publication (then it stays approved; see ``consent``). It is
    one action: each move emits its event (the index and the people concerned follow every
    status), but the audit log gets one entry, ``story.<decision>``, naming the moves it made.
    """
    access.require_archivist(actor)
    if decision not in DECISIONS:
        raise BadRequest(
            _('decision must be "approve" or "reject" (or "request_changes", "publish")'),
            field="decision",
        )
    note = _check_note(note)
    story = _load(story_id)
    started = S(story.status)
    moves = []
    if decision == "approve" and story.status == S.SUBMITTED.value:
        moves.append("start_review")
        transition(story, "start_review", actor, None, audited=False)
    moves.append(decision)
    transition(story, decision, actor, note, audited=False)
    if decision == "approve" and not consent.publication_blockers(story):
        moves.append("publish")
        transition(story, "publish", actor, None, audited=False)
    audit.record(
        f"story.{decision}",
        "story",
        story.id,
        actor=actor,
        note=note,
        details={"from": started.value, "to": story.status, "moves": moves},
    )
    return story


def withdraw(uow: UnitOfWork, story_id: int, note: str | None, actor: User | None) -> Story:
    """An archivist takes a story out of public view in one action (the original is kept)."""
    access.require_archivist(actor)
    return apply(uow, story_id, "withdraw", actor, note)
