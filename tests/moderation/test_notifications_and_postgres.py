"""Notification delivery (in the app; e-mail through the outbox and a retried job) and the
workflow on PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import socket
import threading

import pytest

from tests.conftest import (
    PASSWORD,
    build_app,
    create_user_now,
    in_action,
    story_metadata,
    submit_story_now,
)
from tests.service_processes import free_port
from webapp.errors import AuthenticationRequired


def _readable(raw: bytes) -> str:
    """What the reader's mail program shows: the headers and the decoded text (a French body
    travels encoded, so the raw bytes do not hold its words)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    headers = "".join(f"{name}: {value}\n" for name, value in message.items())
    return headers + "\n" + message.get_content()


class SmtpSink(threading.Thread):
    """A real (minimal) SMTP server on a free loopback port that keeps what it receives."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.messages: list[str] = []
        self.connections = 0

    def run(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn, conn.makefile("rb") as lines:
                conn.sendall(b"220 sink ready\r\n")
                data: list[bytes] | None = None
                for line in lines:
                    if data is not None:
                        if line in (b".\r\n", b".\n"):
                            self.messages.append(_readable(b"".join(data)))
                            data = None
                            conn.sendall(b"250 queued\r\n")
                        else:
                            data.append(line)
                        continue
                    verb = line[:4].upper()
                    if verb == b"DATA":
                        data = []
                        conn.sendall(b"354 go on\r\n")
                    elif verb == b"QUIT":
                        conn.sendall(b"221 bye\r\n")
                        break
                    else:
                        conn.sendall(b"250 ok\r\n")

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def smtp_sink():
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.close()


def _mail_events(app) -> list[int]:
    from webapp.extensions import db
    from webapp.models import OutboxEvent

    with app.app_context():
        return [
            e.payload["notification_id"]
            for e in db.session.scalars(
                db.select(OutboxEvent).where(OutboxEvent.event_type == "notification.created")
            )
        ]


def test_e_mail_leaves_through_the_outbox_never_from_the_web_request(
    tmp_path, smtp_sink, make_user
):
    """The archivist's click writes the notification and its event; the mail job sends it."""
    from workers.context import use_app
    from workers.mail import send_notification
    from workers.relay import jobs_for

    app = build_app(tmp_path / "mail", SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp_sink.port))
    member = app.test_client()
    with app.app_context():
        create_user_now("member@example.org", "contributor", PASSWORD)
        create_user_now("archivist@example.org", "archivist", PASSWORD)
    member.post("/login", data={"email": "member@example.org", "password": PASSWORD})
    archivist = app.test_client()
    archivist.post("/login", data={"email": "archivist@example.org", "password": PASSWORD})
    token_user = _user_id(app, "member@example.org")
    with app.app_context():
        from webapp.extensions import db
        from webapp.models import User

        story_id = submit_story_now(
            story_metadata(), [], submitter=db.session.get(User, token_user)
        ).id
    response = archivist.post(
        f"/moderation/stories/{story_id}", data={"decision": "start_review", "note": ""}
    )
    assert response.status_code == 303
    response = archivist.post(
        f"/moderation/stories/{story_id}", data={"decision": "reject", "note": "hors sujet"}
    )
    assert response.status_code == 303
    # The request talked to no mail server; the work waits in the outbox, routed to the mail job.
    assert smtp_sink.connections == 0
    notification_ids = _mail_events(app)
    assert notification_ids
    with app.app_context():
        from webapp.extensions import db
        from webapp.models import OutboxEvent

        event = db.session.scalar(
            db.select(OutboxEvent).where(OutboxEvent.event_type == "notification.created")
        )
        assert [j.func for j in jobs_for(event)] == ["workers.mail.send_notification"]
    use_app(app)
    outcomes = [send_notification(n) for n in notification_ids]
    assert "sent" in outcomes
    assert any("hors sujet" in m and "member@example.org" in m for m in smtp_sink.messages)
    # In French (the site's language; the job runs outside any request), with the note quoted.
    assert any("n’a pas été acceptée par les archives" in m for m in smtp_sink.messages)
    # Delivered at least once by RQ, sent at most once.
    sent = len(smtp_sink.messages)
    assert {send_notification(n) for n in notification_ids} == {"skipped"}
    assert len(smtp_sink.messages) == sent


def test_a_mail_server_outage_makes_the_job_fail_for_a_retry_and_loses_nothing(tmp_path, smtp_sink):
    from webapp.extensions import db
    from webapp.models import Notification, User
    from webapp.services import notifications
    from workers.context import use_app
    from workers.mail import send_notification

    down = build_app(tmp_path / "mail", SMTP_HOST="127.0.0.1", SMTP_PORT=str(free_port()))
    with down.app_context():
        user, _ = create_user_now("reader@example.org", "contributor", PASSWORD)
        user_id = user.id
        row = in_action(lambda uow: notifications.notify(user, "publish", "“Vitry” est publié"))
        notification_id = row.id
    use_app(down)
    with pytest.raises(OSError):
        send_notification(notification_id)  # RQ retries it (workers.relay.RETRY)
    with down.app_context():
        assert db.session.get(Notification, notification_id).emailed_at is None
    # The server is back (same data, the settings now name the running sink).
    up = build_app(tmp_path / "mail", SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp_sink.port))
    use_app(up)
    assert send_notification(notification_id) == "sent"
    assert any("Vitry" in m for m in smtp_sink.messages)
    with up.app_context():
        assert db.session.get(Notification, notification_id).emailed_at is not None
        assert db.session.get(User, user_id) is not None


def test_students_without_e_mail_get_no_mail_event(app, world, user, new_story):
    from webapp.extensions import db
    from webapp.models import Notification
    from webapp.services import review

    story_id = new_story(world.student)
    with app.app_context():
        in_action(review.apply, story_id, "return", user(world.teacher), "Ajoute la date")
        rows = db.session.scalars(
            db.select(Notification).where(Notification.user_id == world.student)
        ).all()
        teachers = db.session.scalars(
            db.select(Notification.id).where(Notification.user_id == world.teacher)
        ).all()
    assert any("Ajoute la date" in row.message for row in rows)  # the student reads it in the app
    assert not {row.id for row in rows} & set(_mail_events(app))
    assert teachers and set(teachers) <= set(_mail_events(app))  # control: the teacher is mailed


def _user_id(app, email: str) -> int:
    from webapp.extensions import db
    from webapp.models import User

    with app.app_context():
        return db.session.scalar(db.select(User.id).where(User.email == email))


def test_workflow_and_consent_on_postgresql(tmp_path, postgres_url):
    from tests.conftest import story_metadata
    from webapp.extensions import db
    from webapp.models import Role, Story
    from webapp.services import classes, consent, review, throttle

    app = build_app(tmp_path / "data", DATABASE_URL=postgres_url)
    try:
        with app.app_context():
            teacher, _ = create_user_now("t@example.org", Role.TEACHER.value, "password1")
            archivist, _ = create_user_now("a@example.org", Role.ARCHIVIST.value, "password1")
            klass = in_action(classes.create_class, teacher, "4e B")
            joined = in_action(classes.join_class, klass.code, "Amina")
            story = submit_story_now(story_metadata(), [], submitter=joined.student)
            in_action(review.apply, story.id, "forward", teacher)
            in_action(review.review, story.id, "approve", None, archivist)
            assert db.session.get(Story, story.id).status == "approved"
            in_action(consent.record_guardian_consent, story.id, "mère", teacher)
            in_action(review.apply, story.id, "publish", archivist)
            assert db.session.get(Story, story.id).status == "published"
            with pytest.raises(AuthenticationRequired):
                classes.student_login(klass.code, "Amina", "XXXX-XXXX")
            # The login throttle's atomic UPDATE … RETURNING works on PostgreSQL too.
            rule = throttle.Rule("account:class:amina", free=2, base=30, cap=900)
            for _ in range(2):
                in_action(throttle.count_attempt, [rule])
            with pytest.raises(throttle.LoginThrottled):
                in_action(throttle.count_attempt, [rule])
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
