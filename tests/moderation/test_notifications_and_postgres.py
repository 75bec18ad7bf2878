"""Notification delivery (log by default, e-mail with SMTP) and the workflow on PostgreSQL."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import build_app, create_user_now, submit_story_now
from webapp.errors import AuthenticationRequired


def test_notifications_are_logged_in_the_embedded_default(app, world, user, new_story, caplog):
    from webapp.services import review

    # Alembic's fileConfig (migrations/env.py) disables loggers that existed before it ran.
    logging.getLogger("webapp.services.notifications").disabled = False
    story_id = new_story(world.student)
    with app.app_context(), caplog.at_level(logging.INFO, logger="webapp.services.notifications"):
        review.apply(story_id, "return", user(world.teacher), "Ajoute la date")
    assert any("Ajoute la date" in r.getMessage() for r in caplog.records)


def test_notifications_are_mailed_when_smtp_is_configured(app, world, user, new_story, monkeypatch):
    from webapp.services import notifications, review

    sent = []

    class FakeSMTP:
        def __init__(self, host, port, timeout):
            sent.append(("connect", host, port))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def send_message(self, message):
            sent.append(("mail", message["To"], message.get_content()))

    monkeypatch.setattr(notifications.smtplib, "SMTP", FakeSMTP)
    import dataclasses

    settings = app.extensions["passages.settings"]
    app.extensions["passages.settings"] = dataclasses.replace(settings, smtp_host="mail.test")
    story_id = new_story(world.member)
    with app.app_context():
        review.review(story_id, "reject", "hors sujet", user(world.archivist))
    assert ("connect", "mail.test", 25) in sent
    assert any(
        s[0] == "mail" and s[1] == "member@example.org" and "hors sujet" in s[2] for s in sent
    )


def test_workflow_and_consent_on_postgresql(tmp_path, postgres_url):
    from tests.conftest import story_metadata
    from webapp.extensions import db
    from webapp.models import Role, Story
    from webapp.services import classes, consent, review

    app = build_app(tmp_path / "data", DATABASE_URL=postgres_url)
    try:
        with app.app_context():
            teacher, _ = create_user_now("t@example.org", Role.TEACHER.value, "password1")
            archivist, _ = create_user_now("a@example.org", Role.ARCHIVIST.value, "password1")
            klass = classes.create_class(teacher, "4e B")
            joined = classes.join_class(klass.code, "Amina")
            story = submit_story_now(story_metadata(), [], submitter=joined.student)
            review.apply(story.id, "forward", teacher)
            review.review(story.id, "approve", None, archivist)
            assert db.session.get(Story, story.id).status == "approved"
            consent.record_guardian_consent(story.id, "mère", teacher)
            review.apply(story.id, "publish", archivist)
            assert db.session.get(Story, story.id).status == "published"
            with pytest.raises(AuthenticationRequired):
                classes.student_login(klass.code, "Amina", "XXXX-XXXX")
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
