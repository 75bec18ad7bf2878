"""Classes, students without e-mail, access resets, invitations and the login lockout."""

from __future__ import annotations

import pytest

from tests.conftest import in_action
from webapp.errors import AuthenticationRequired, BadRequest, Forbidden, NotFound
from webapp.unit_of_work import unit_of_work


def test_student_joins_with_code_and_pseudonym_only_and_logs_in_again(app, world, user):
    from webapp.services import classes

    with app.app_context():
        student = user(world.student)
        assert student.email is None and student.class_id == world.class_id
        assert len(world.class_code) == 6
        again = classes.student_login(world.class_code.lower(), "amina", world.student_code)
        assert again.id == world.student
        with pytest.raises(AuthenticationRequired):
            classes.student_login(world.class_code, "Amina", "AAAA-AAAA")


def test_join_refuses_e_mail_as_pseudonym_duplicates_and_unknown_codes(app, world):
    from webapp.services import classes

    with app.app_context():
        with pytest.raises(BadRequest):
            in_action(classes.join_class, world.class_code, "amina@example.org")
        with pytest.raises(BadRequest):
            in_action(classes.join_class, world.class_code, "AMINA")
        with pytest.raises(NotFound):
            in_action(classes.join_class, "ZZZZZZ", "Nour")


def test_teacher_resets_a_students_access_but_not_in_another_class(app, world, user):
    from webapp.services import classes

    with app.app_context():
        with pytest.raises(NotFound):
            in_action(classes.reset_student_access, user(world.other_teacher), world.student)
        fresh = in_action(classes.reset_student_access, user(world.teacher), world.student)
        assert fresh.access_code != world.student_code
        with pytest.raises(AuthenticationRequired):
            classes.student_login(world.class_code, "Amina", world.student_code)
        assert (
            classes.student_login(world.class_code, "Amina", fresh.access_code).id == world.student
        )


def test_students_cannot_create_classes(app, world, user):
    from webapp.services import classes

    with app.app_context(), pytest.raises(Forbidden):
        in_action(classes.create_class, user(world.student), "mine")


def test_wrong_password_and_unknown_account_get_the_same_refusal(app, world):
    from tests.conftest import PASSWORD
    from webapp.services import accounts

    with app.app_context():
        with pytest.raises(AuthenticationRequired) as wrong:
            accounts.authenticate("teacher@example.org", "nope")
        with pytest.raises(AuthenticationRequired) as unknown:
            accounts.authenticate("nobody@example.org", "nope")
        assert wrong.value.message == unknown.value.message
        assert accounts.authenticate("teacher@example.org", PASSWORD).email == "teacher@example.org"


def test_invitation_link_lets_a_teacher_set_a_password_once(app, world, user):
    from webapp.models import Role
    from webapp.services import accounts

    with app.app_context():
        with pytest.raises(Forbidden), unit_of_work() as uow:
            accounts.invite(uow, user(world.teacher), "new@example.org", "teacher", world.school_id)
        with unit_of_work() as uow:
            token = accounts.invite(
                uow, user(world.admin), "new@example.org", "teacher", world.school_id
            )
        with unit_of_work() as uow:
            person = accounts.accept_invitation(uow, token, "Mme Diallo", "a-long-password")
        assert person.role == Role.TEACHER.value and person.organisation_id == world.school_id
        assert accounts.authenticate("new@example.org", "a-long-password").id == person.id
        with pytest.raises(NotFound), unit_of_work() as uow:
            accounts.accept_invitation(uow, token, "again", "another-password")
