"""Tell contributors and teachers what happened to a story: in the app, and by e-mail.

A notification is a row written in the caller's unit of work, with the change it reports, so
people are never told about a change that was rolled back. When the person has an e-mail address
the same transaction writes a ``notification.created`` outbox event; the relay hands it to the
``workers.mail.send_notification`` job, which mails it (when ``SMTP_HOST`` is set, otherwise it
writes a log line) with RQ's retries. So no web request ever waits on an SMTP server, and a mail
server outage delays e-mail without losing it. Students have no e-mail address: they read the app.
This module must never change a story, never commit, and never talk to an SMTP server.
"""

from __future__ import annotations

import logging
import re

from flask_babel import gettext

from webapp.extensions import db
from webapp.models import Notification, Role, Story, User, utcnow
from webapp.services import access, outbox
from webapp.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


def N_(text: str) -> str:
    """Mark ``text`` for the catalog without translating it now (the stored record is English;
    each reader gets it in their language when it is shown or mailed, see ``text_of``)."""
    return text


#: What each move means for the people who wrote or teach the story.
MESSAGES = {
    "submit": N_("“%(title)s” was handed in."),
    "return": N_(
        "Your teacher returned “%(title)s” with comments%(note)s. Change it and hand it in."
    ),
    "request_changes": N_("The archive asks for changes to “%(title)s”%(note)s."),
    "approve": N_("“%(title)s” was approved by the archive."),
    "publish": N_("“%(title)s” is now published for everyone to read."),
    "reject": N_("“%(title)s” was not accepted by the archive%(note)s."),
    "withdraw": N_("“%(title)s” was withdrawn from the public site%(note)s."),
    "forward": N_("“%(title)s” was forwarded to the archive."),
    "resubmit": N_("“%(title)s” was handed in again."),
    "consent_withdrawn": N_(
        "“%(title)s” was taken out of public view: the consent of a person recorded was "
        "withdrawn%(note)s. The archive reviews it again."
    ),
}
#: Moves the archivists must hear about: the story came back to their queue without any of
#: them acting (a consent withdrawn after publication).
TO_THE_ARCHIVE = frozenset({"consent_withdrawn"})
#: How a moderator's note is quoted inside a message.
NOTE = N_(": “%(note)s”")


def _pattern(template: str) -> re.Pattern[str]:
    """A regular expression that reads the title and quoted note back out of a stored message."""
    parts = re.split(r"(%\((?:title|note)\)s)", template)
    pattern = "".join(
        "(?P<title>.*)" if part == "%(title)s" else "(?P<note>.*)" if part == "%(note)s"
        else re.escape(part)
        for part in parts
    )  # fmt: skip
    return re.compile(pattern, re.DOTALL)


_PATTERNS = {kind: _pattern(template) for kind, template in MESSAGES.items()}
_NOTE_PATTERN = _pattern(NOTE.replace("%(note)s", "%(title)s"))


def text_of(row: Notification) -> str:
    """The notification in the reader's language (the request's, or French in the e-mail job).

    The row keeps the message as written when it happened, in English; it is read back into
    its title and note and said again in the interface language. A message this version does
    not recognise is shown as stored.
    """
    template = MESSAGES.get(row.kind)
    found = _PATTERNS[row.kind].fullmatch(row.message) if template else None
    if found is None:
        return row.message
    values = found.groupdict()
    note = values.get("note") or ""
    quoted = _NOTE_PATTERN.fullmatch(note)
    if note and quoted is None:
        return row.message
    return gettext(
        template,
        title=values["title"],
        note=gettext(NOTE, note=quoted.group("title")) if quoted else "",
    )


def notify(user: User, kind: str, message: str, story: Story | None = None) -> Notification:
    """Add a message for ``user`` to the current action; e-mail follows through the outbox."""
    row = Notification(
        user_id=user.id, kind=kind, message=message, story_id=story.id if story else None
    )
    db.session.add(row)
    if user.email:
        db.session.flush()  # the event carries the row's id
        outbox.emit(
            "notification.created",
            {"notification_id": row.id, "story_id": row.story_id},
        )
    return row


def story_moved(story: Story, action: str, note: str | None, actor: User | None) -> None:
    """Queue messages for the story's author and teacher (not for whoever made the move)."""
    template = MESSAGES.get(action)
    if template is None:
        return
    message = template % {"title": story.title, "note": NOTE % {"note": note} if note else ""}
    recipients: dict[int, User] = {}
    if story.submitted_by is not None:
        recipients[story.submitted_by.id] = story.submitted_by
    klass = access.story_class(story)
    if klass is not None and action != "return":
        recipients[klass.teacher_id] = klass.teacher
    if action in TO_THE_ARCHIVE:
        archivists = db.select(User).where(User.role == Role.ARCHIVIST.value, User.active)
        for archivist in db.session.scalars(archivists):
            recipients.setdefault(archivist.id, archivist)
    if actor is not None:
        recipients.pop(actor.id, None)
    for user in recipients.values():
        notify(user, action, message, story)


def unread_for(user: User) -> list[Notification]:
    return db.session.scalars(
        db.select(Notification)
        .where(Notification.user_id == user.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(50)
    ).all()


def mark_read(uow: UnitOfWork, user: User) -> None:
    """Mark the user's news read, in the caller's unit of work (an explicit POST, never a GET)."""
    uow.session.execute(
        db.update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
