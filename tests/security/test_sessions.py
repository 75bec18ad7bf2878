"""Sessions end server-side: a cookie copied before logout, a password change, an access-code
reset, a role change or a deactivation no longer logs anyone in when replayed."""

from __future__ import annotations

import re

from tests.conftest import PASSWORD, in_action
from tests.security.conftest import class_login, copy_session_cookie, login


def _logged_in(client) -> bool:
    """The private page answers only to a live session."""
    return client.get("/me").status_code == 200


def _stolen_copy(app, client):
    thief = app.test_client()
    copy_session_cookie(client, thief)
    assert _logged_in(thief), "the copied cookie should work before the revoking event"
    return thief


def test_logout_ends_the_copied_session(app, world):
    client = app.test_client()
    assert login(client, "teacher@example.org").status_code == 302
    thief = _stolen_copy(app, client)
    client.post("/logout")
    assert not _logged_in(client)
    assert not _logged_in(thief)


def test_password_change_ends_every_session(app, world):
    client = app.test_client()
    assert login(client, "teacher@example.org").status_code == 302
    thief = _stolen_copy(app, client)
    other_device = app.test_client()
    assert login(other_device, "teacher@example.org").status_code == 302
    changed = client.post(
        "/account", data={"what": "password", "current": PASSWORD, "new": "a-brand-new-one"}
    )
    assert changed.status_code == 303
    assert not _logged_in(thief) and not _logged_in(other_device) and not _logged_in(client)
    assert login(client, "teacher@example.org", "a-brand-new-one").status_code == 302


def test_wrong_current_password_changes_nothing(app, world):
    client = app.test_client()
    assert login(client, "teacher@example.org").status_code == 302
    client.post("/account", data={"what": "password", "current": "nope", "new": "a-brand-new-one"})
    assert _logged_in(client)
    assert login(app.test_client(), "teacher@example.org").status_code == 302


def test_access_code_reset_ends_the_students_sessions(app, world):
    student = app.test_client()
    assert class_login(student, world.class_code, "Amina", world.student_code).status_code == 303
    thief = _stolen_copy(app, student)
    teacher = app.test_client()
    assert login(teacher, "teacher@example.org").status_code == 302
    page = teacher.post(f"/classes/{world.class_id}/students/{world.student}/reset")
    assert page.status_code in (200, 303), page.status_code
    assert not _logged_in(thief) and not _logged_in(student)


def test_role_change_and_deactivation_end_sessions(app, world):
    admin = app.test_client()
    assert login(admin, "admin@example.org").status_code == 302
    for action, extra in (("role", {"role": "contributor"}), ("deactivate", {})):
        client = app.test_client()
        assert login(client, "archivist@example.org").status_code == 302
        thief = _stolen_copy(app, client)
        done = admin.post(
            "/admin/people", data={"what": action, "id": str(world.archivist), **extra}
        )
        assert done.status_code == 303
        assert not _logged_in(thief) and not _logged_in(client), action
        if action == "role":
            admin.post(
                "/admin/people",
                data={"what": "role", "id": str(world.archivist), "role": "archivist"},
            )
    # Deactivated: the right password no longer logs in, with the usual answer.
    refused = login(app.test_client(), "archivist@example.org")
    assert refused.status_code == 401
    admin.post("/admin/people", data={"what": "activate", "id": str(world.archivist)})
    assert login(app.test_client(), "archivist@example.org").status_code == 302


def test_only_admins_reach_the_people_page(app, world):
    client = app.test_client()
    assert login(client, "archivist@example.org").status_code == 302
    assert client.get("/admin/people").status_code == 403
    assert (
        client.post(
            "/admin/people", data={"what": "deactivate", "id": str(world.admin)}
        ).status_code
        == 403
    )
    assert client.get("/admin/throttled").status_code == 403


def test_an_old_style_cookie_without_epoch_loads_nobody(app, world):
    """A cookie forged (or kept from before the upgrade) with the bare user id is refused."""
    client = app.test_client()
    assert login(client, "teacher@example.org").status_code == 302
    with client.session_transaction() as session:
        session["_user_id"] = str(world.teacher)
    assert not _logged_in(client)


def test_reading_my_space_does_not_mark_news_read(app, world, new_story, user):
    from webapp.extensions import db
    from webapp.models import Notification
    from webapp.services import review

    story_id = new_story(world.student)
    with app.app_context():
        in_action(review.apply, story_id, "return", user(world.teacher), "Ajoute la date")
    student = app.test_client()
    assert class_login(student, world.class_code, "Amina", world.student_code).status_code == 303

    def unread() -> int:
        with app.app_context():
            return len(
                db.session.scalars(
                    db.select(Notification).where(
                        Notification.user_id == world.student, Notification.read_at.is_(None)
                    )
                ).all()
            )

    before = unread()
    assert before >= 1
    page = student.get("/me").get_data(as_text=True)
    student.get("/me")
    assert unread() == before
    assert re.search(r'action="/me/notifications/read"', page)
    assert student.post("/me/notifications/read").status_code == 303
    assert unread() == 0
