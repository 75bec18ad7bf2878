"""Consent and rights: what must be true before a story may become public, and recording it.

``publication_blockers`` is the single answer to "may this story be published now?"; the review
state machine asks it before every publication. A contributor's own tick box never counts as a
guardian's consent: only a teacher or archivist records that it was received, by whom and when.
This module must never change a story's status, and never commits (the caller's unit of work does).
"""

from __future__ import annotations

from flask_babel import gettext

from webapp import licences
from webapp.errors import AuthenticationRequired, BadRequest, Forbidden, NotFound
from webapp.extensions import db
from webapp.models import (
    GuardianConsent,
    MediaAsset,
    RecordingConsent,
    Role,
    Story,
    StoryStatus,
    User,
    utcnow,
)
from webapp.services import access, audit
from webapp.unit_of_work import UnitOfWork

#: The licence codes a story or an image may carry (one table: ``webapp/licences.py``).
LICENCES = licences.CODES


def is_minor_story(story: Story) -> bool:
    """A story needs guardian consent when its author said they are a minor or is a student.

    Students join classes without any proof of age, so every class member counts as a minor.
    """
    if (story.consent or {}).get("minor"):
        return True
    if story.class_id is not None:
        return True
    return story.submitted_by is not None and story.submitted_by.class_id is not None


def guardian_state(story: Story) -> GuardianConsent:
    """The effective state: ``received`` once recorded, ``pending`` for any minor otherwise."""
    if story.guardian_consent == GuardianConsent.RECEIVED.value:
        return GuardianConsent.RECEIVED
    if is_minor_story(story):
        return GuardianConsent.PENDING
    return GuardianConsent.NOT_REQUIRED


def publication_blockers(story: Story) -> list[str]:
    """Every reason, in plain words, why this story may not be published yet (empty = may)."""
    reasons = []
    if not (story.consent or {}).get("contributor"):
        reasons.append(gettext("the contributor has not agreed to publication"))
    if guardian_state(story) == GuardianConsent.PENDING:
        reasons.append(gettext("the consent of a parent or guardian has not been recorded yet"))
    if story.persons_identifiable and story.persons_cleared_at is None:
        reasons.append(
            gettext("people can be recognised in the photos: an archivist must clear this")
        )
    for media in story.media:
        reasons.extend(recording_blockers(media))
    return reasons


# --- recordings: a recorded voice, a filmed face --------------------------------------------------


def _is_recording(media: MediaAsset) -> bool:
    kind = getattr(media, "kind", None)
    if kind:
        return kind in ("audio", "video")
    return (media.mime_type or "").startswith(("audio/", "video/"))


def recording_consent(media_id: int) -> RecordingConsent | None:
    return db.session.get(RecordingConsent, media_id)


def _recording_name(media: MediaAsset) -> str:
    return media.original_filename or f"#{media.id}"


def recording_blockers(media: MediaAsset) -> list[str]:
    """Why a recording keeps its story from publication: the person recorded (their voice,
    their face) has not agreed, or is a minor whose guardian's consent is not recorded."""
    if not _is_recording(media):
        return []
    row = recording_consent(media.id)
    name = _recording_name(media)
    if row is None or not row.consent_given:
        return [gettext("the person recorded in %(name)s has not agreed to publication", name=name)]
    if row.minor and row.guardian_consent_at is None:
        return [
            gettext(
                "the person recorded in %(name)s is a minor: "
                "the consent of a parent or guardian has not been recorded yet",
                name=name,
            )
        ]
    return []


def may_record_guardian(user: User | None, story: Story) -> bool:
    """Like a story's guardian consent: only a teacher of the story or staff record it."""
    return user is not None and (user.is_staff or access.is_teacher_of(user, story))


def record_recording_consent(
    uow: UnitOfWork,
    media_id: int,
    *,
    person: str,
    given: bool,
    minor: bool,
    guardian_by: str,
    actor: User | None,
) -> RecordingConsent:
    """Record who is heard or seen in a recording and whether they (and, for a minor, a
    guardian) agreed to publication. The contributor, a teacher of the story or an archivist
    may say the person agreed; only a teacher or archivist records a guardian's consent."""
    if actor is None:
        raise AuthenticationRequired(gettext("log in (or send an API token) to do this"))
    media = db.session.get(MediaAsset, media_id)
    if media is None or not _is_recording(media):
        raise NotFound(gettext("no such recording"))
    story = access.require_view(media.story, actor)
    guardian_allowed = may_record_guardian(actor, story)
    if not (guardian_allowed or access.is_owner(actor, story)):
        raise Forbidden(
            gettext("only the contributor, a teacher of this class or an archivist can do this")
        )
    guardian_by = (guardian_by or "").strip()
    if guardian_by and not guardian_allowed:
        raise Forbidden(gettext("only a teacher or an archivist can record a guardian's consent"))
    row = recording_consent(media.id)
    if row is None:
        row = RecordingConsent(media_id=media.id)
        uow.add(row)
    row.person = " ".join((person or "").split())[:200]
    row.consent_given = bool(given)
    row.minor = bool(minor)
    if not row.minor:
        row.guardian_consent_by = row.guardian_consent_at = row.guardian_declared_by = None
    elif guardian_by:
        row.guardian_consent_by = guardian_by[:200]
        row.guardian_consent_at = utcnow()
    row.recorded_by_id = actor.id
    row.recorded_at = utcnow()
    audit.record(
        "story.recording_consent",
        "story",
        story.id,
        actor=actor,
        details={"media_id": media.id, "given": row.consent_given, "minor": row.minor},
    )
    uow.flush()
    if story.status == StoryStatus.PUBLISHED.value and recording_blockers(media):
        _take_out_of_public_view(story, media, actor)
    return row


def _take_out_of_public_view(story: Story, media: MediaAsset, actor: User) -> None:
    """Consent withdrawn while the story is public: a voice or a face must not stay online.

    The story goes back to the archive review in this same transaction (the move's event
    drops it from the index, the IIIF cache and exhibitions; the page cache is retired at
    commit), with its history entry and a message for the archivists and the contributor.
    It is not withdrawn, which is final: the person may agree again, or the archivist may
    remove the recording and publish the rest.
    """
    from webapp.services import review  # review asks this module before every publication

    review.transition(story, "consent_withdrawn", actor, _recording_name(media))


def record_upload_consents(
    uow: UnitOfWork, story: Story, entries: list[dict | None], submitter: User | None
) -> list[RecordingConsent]:
    """Record, with the upload, the consent of the person heard or seen in each recording.

    ``entries`` follow the media's order (``recording_consents`` of the story schema); an entry
    for an image, or none, records nothing. Added to the submission's unit of work, so the rows
    commit with the media rows or not at all. A guardian's consent counts only from a teacher of
    the story or an archivist; anyone else's is kept as their declaration
    (``guardian_declared_by``), which fills the form a teacher or archivist confirms.
    """
    rows = []
    guardian_allowed = may_record_guardian(submitter, story)
    media_in_order = sorted(story.media, key=lambda m: m.position)
    for media, entry in zip(media_in_order, entries, strict=False):
        if not entry or not _is_recording(media):
            continue
        minor = bool(entry.get("minor"))
        guardian_by = " ".join((entry.get("guardian_by") or "").split())[:200] if minor else ""
        row = RecordingConsent(
            media_id=media.id,
            person=" ".join((entry.get("person") or "").split())[:200],
            consent_given=bool(entry["consent"]),
            minor=minor,
            recorded_by_id=submitter.id if submitter else None,
            recorded_at=utcnow(),
        )
        if guardian_by and guardian_allowed:
            row.guardian_consent_by = guardian_by
            row.guardian_consent_at = utcnow()
        elif guardian_by:
            row.guardian_declared_by = guardian_by
        uow.add(row)
        rows.append(row)
    return rows


def _story_for_update(story_id: int) -> Story:
    story = db.session.get(Story, story_id, with_for_update=True)
    if story is None:
        raise NotFound(gettext("no such story"))
    return story


def record_guardian_consent(
    uow: UnitOfWork, story_id: int, given_by: str, actor: User | None
) -> Story:
    """A teacher (of the story's class) or an archivist records that a guardian agreed."""
    if actor is None:
        raise Forbidden(gettext("log in as a teacher or archivist to record consent"))
    story = _story_for_update(story_id)
    if not (actor.is_staff or access.is_teacher_of(actor, story)):
        # The same answer as an unknown id: a stranger cannot probe which stories exist.
        raise NotFound(gettext("no such story"))
    given_by = (given_by or "").strip()
    if not given_by:
        raise BadRequest(
            gettext("write who gave the consent (for example: 'mother, signed form')"),
            field="given_by",
        )
    story.guardian_consent = GuardianConsent.RECEIVED.value
    story.guardian_consent_by = given_by[:200]
    story.guardian_consent_at = utcnow()
    story.guardian_consent_recorded_by_id = actor.id
    audit.record(
        "story.guardian_consent",
        "story",
        story.id,
        actor=actor,
        details={"given_by": story.guardian_consent_by},
    )
    return story


def set_persons_identifiable(
    uow: UnitOfWork, story_id: int, identifiable: bool, actor: User | None
) -> Story:
    """Anyone reviewing may raise the flag; only an archivist may clear it."""
    if actor is None:
        raise Forbidden(gettext("log in to do this"))
    story = _story_for_update(story_id)
    if identifiable:
        if not (actor.is_staff or access.is_teacher_of(actor, story)):
            raise Forbidden(gettext("only a teacher of this class or an archivist can do this"))
        story.persons_identifiable = True
        story.persons_cleared_at = None
        story.persons_cleared_by_id = None
        action = "story.persons_flagged"
    else:
        if not actor.has_role(Role.ARCHIVIST, Role.ADMIN):
            raise Forbidden(
                gettext("only an archivist can clear the 'people can be recognised' flag")
            )
        story.persons_cleared_at = utcnow()
        story.persons_cleared_by_id = actor.id
        action = "story.persons_cleared"
    audit.record(action, "story", story.id, actor=actor)
    return story
