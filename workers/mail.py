"""E-mail jobs: deliver a committed notification to its reader's mailbox.

The web request never talks to an SMTP server: a notification for someone with an e-mail address
writes a ``notification.created`` outbox event in the same transaction, the relay enqueues this
job, and RQ retries it with backoff when the mail server is unreachable (the job raises). The job
is idempotent: ``Notification.emailed_at`` is stamped in the job's own unit of work after the
message left, and a row already stamped is skipped. Without ``SMTP_HOST`` (the embedded default)
the message is written to the log instead. This module must never change a story.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from flask_babel import force_locale

from webapp.extensions import db
from webapp.i18n import DEFAULT_LANGUAGE
from webapp.models import Notification, User, utcnow
from webapp.services import backends, notifications
from webapp.unit_of_work import unit_of_work
from workers.context import app_context

log = logging.getLogger(__name__)

#: Seconds to wait for the mail server; a slow server delays this job, never a web page.
SMTP_TIMEOUT = 10


def send_notification(notification_id: int) -> str:
    """Mail (or log) one notification; return what happened (``sent``, ``logged``, ``skipped``)."""
    with app_context(), unit_of_work() as uow:
        row = db.session.get(Notification, notification_id)
        if row is None or row.emailed_at is not None:
            return "skipped"  # erased since, or already sent by an earlier delivery of this job
        user = db.session.get(User, row.user_id)
        settings = backends.settings()
        if user is None or not user.email:
            return "skipped"
        if not settings.smtp_host:
            log.info("notification %s for user %s (%s): %s", row.id, user.id, row.kind, row.message)
            return "logged"
        message = EmailMessage()
        message["Subject"] = "Passages"
        message["From"] = settings.mail_from
        message["To"] = user.email
        with force_locale(DEFAULT_LANGUAGE):  # people read mail in the site's language
            message.set_content(notifications.text_of(row))
        # An OSError / SMTPException propagates: the unit of work rolls back and RQ retries.
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT) as smtp:
            smtp.send_message(message)
        row.emailed_at = utcnow()
        uow.after_commit(lambda: log.info("notification %s e-mailed", notification_id))
        return "sent"
