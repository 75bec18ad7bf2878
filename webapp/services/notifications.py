"""Tell contributors and teachers what happened to a story: in the app, and by e-mail or log.

A notification is a row written in the same transaction as the change it reports, so people are
never told about a change that was rolled back. After the commit, ``dispatch_pending`` delivers
the new rows: by e-mail when an SMTP server is configured (``SMTP_HOST``…), otherwise a line in
the log (the embedded default). Students have no e-mail address: they read the app. This module
must never change a story.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from flask import g, has_app_context
from sqlalchemy import inspect

from webapp.extensions import db
from webapp.models import Notification, Story, User, utcnow
from webapp.services import access, backends

log = logging.getLogger(__name__)

#: What each move means for the people who wrote or teach the story.
MESSAGES = {
    "submit": "“{title}” was handed in.",
    "return": "Your teacher returned “{title}” with comments{note}. Change it and hand it in.",
    "request_changes": "The archive asks for changes to “{title}”{note}.",
    "approve": "“{title}” was approved by the archive.",
    "publish": "“{title}” is now published for everyone to read.",
    "reject": "“{title}” was not accepted by the archive{note}.",
    "withdraw": "“{title}” was withdrawn from the public site{note}.",
    "forward": "“{title}” was forwarded to the archive.",
    "resubmit": "“{title}” was handed in again.",
}


def _pending() -> list[Notification]:
    if not has_app_context():
        return []
    if "passages_notifications" not in g:
        g.passages_notifications = []
    return g.passages_notifications


def notify(user: User, kind: str, message: str, story: Story | None = None) -> Notification:
    row = Notification(
        user_id=user.id, kind=kind, message=message, story_id=story.id if story else None
    )
    db.session.add(row)
    _pending().append(row)
    return row


def story_moved(story: Story, action: str, note: str | None, actor: User | None) -> None:
    """Queue messages for the story's author and teacher (not for whoever made the move)."""
    template = MESSAGES.get(action)
    if template is None:
        return
    message = template.format(title=story.title, note=f": “{note}”" if note else "")
    recipients: dict[int, User] = {}
    if story.submitted_by is not None:
        recipients[story.submitted_by.id] = story.submitted_by
    klass = access.story_class(story)
    if klass is not None and action != "return":
        recipients[klass.teacher_id] = klass.teacher
    if actor is not None:
        recipients.pop(actor.id, None)
    for user in recipients.values():
        notify(user, action, message, story)


def dispatch_pending() -> int:
    """Deliver committed notifications (e-mail or log); rolled-back ones are dropped."""
    rows = [row for row in _pending() if inspect(row).persistent]
    _pending().clear()
    for row in rows:
        user = db.session.get(User, row.user_id)
        if user is None:
            continue
        if user.email and _smtp_host():
            try:
                _send_mail(user.email, row.message)
                continue
            except (OSError, smtplib.SMTPException):
                log.exception("could not e-mail notification %s; it stays in the app", row.id)
        log.info("notification for user %s (%s): %s", user.id, row.kind, row.message)
    return len(rows)


def _smtp_host() -> str | None:
    return backends.settings().smtp_host


def _send_mail(to: str, text: str) -> None:
    settings = backends.settings()
    message = EmailMessage()
    message["Subject"] = "Passages"
    message["From"] = settings.mail_from
    message["To"] = to
    message.set_content(text)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
        smtp.send_message(message)


def unread_for(user: User) -> list[Notification]:
    return db.session.scalars(
        db.select(Notification)
        .where(Notification.user_id == user.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(50)
    ).all()


def mark_read(uow, user: User) -> None:
    """Mark the user's news read, in the caller's unit of work (an explicit POST, never a GET)."""
    uow.session.execute(
        db.update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
