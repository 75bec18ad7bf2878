"""A small school world for moderation tests: two classes with their teachers and students, an
association member, an archivist and an admin — all built through the services."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.conftest import PASSWORD, create_user_now, in_action, story_metadata, submit_story_now


@pytest.fixture
def world(app):
    from webapp.extensions import db
    from webapp.models import Organisation, Role, User
    from webapp.services import classes

    with app.app_context():
        school = Organisation(name="Collège Romain Rolland", kind="school")
        other_school = Organisation(name="Collège Paul Éluard", kind="school")
        association = Organisation(name="Mémoires vives", kind="association")
        db.session.add_all([school, other_school, association])
        db.session.commit()

        def person(role: str, email: str, org: Organisation | None) -> User:
            user, _ = create_user_now(email, role, PASSWORD)
            user.organisation_id = org.id if org else None
            db.session.commit()
            return user

        teacher = person(Role.TEACHER.value, "teacher@example.org", school)
        other_teacher = person(Role.TEACHER.value, "other.teacher@example.org", other_school)
        archivist = person(Role.ARCHIVIST.value, "archivist@example.org", None)
        admin = person(Role.ADMIN.value, "admin@example.org", None)
        member = person(Role.CONTRIBUTOR.value, "member@example.org", association)
        klass = in_action(classes.create_class, teacher, "4e B")
        other_class = in_action(classes.create_class, other_teacher, "5e A")
        amina = in_action(classes.join_class, klass.code, "Amina")
        yanis = in_action(classes.join_class, klass.code, "Yanis")
        lea = in_action(classes.join_class, other_class.code, "Léa")
        return SimpleNamespace(
            school_id=school.id,
            teacher=teacher.id,
            other_teacher=other_teacher.id,
            archivist=archivist.id,
            admin=admin.id,
            member=member.id,
            class_id=klass.id,
            class_code=klass.code,
            other_class_id=other_class.id,
            student=amina.student.id,
            student_code=amina.access_code,
            classmate=yanis.student.id,
            other_student=lea.student.id,
        )


@pytest.fixture
def user(app):
    """Load a user by id inside the current app context."""
    from webapp.extensions import db
    from webapp.models import User

    def load(user_id: int) -> User:
        return db.session.get(User, user_id)

    return load


@pytest.fixture
def new_story(app):
    """Submit a story (no images) as the given user through the submission service."""
    from webapp.extensions import db
    from webapp.models import User

    def make(user_id: int | None, **metadata) -> int:
        with app.app_context():
            submitter = db.session.get(User, user_id) if user_id else None
            story = submit_story_now(story_metadata(**metadata), [], submitter=submitter)
            return story.id

    return make


@pytest.fixture
def token_for(api_token):
    """An API token for any user, students (who have no e-mail address) included."""
    return api_token
