"""Who may see and do what with a story. Every view and API endpoint asks here.

The rule the public relies on: a story that is not published is invisible to anyone who is not
its submitter, the teacher responsible for it, a member of staff, or holding its private status
link. Unknown and invisible stories look the same (404), so ids cannot be probed. This module
must never change data.
"""

from __future__ import annotations

import hmac

from flask_babel import gettext
from sqlalchemy import ColumnElement, and_, or_, true

from webapp.errors import AuthenticationRequired, Forbidden, NotFound
from webapp.extensions import db
from webapp.models import Role, SchoolClass, Story, StoryStatus, User


def story_class(story: Story) -> SchoolClass | None:
    """The class a story belongs to: recorded on the story, else its author's class."""
    if story.school_class is not None:
        return story.school_class
    if story.submitted_by is not None:
        return story.submitted_by.school_class
    return None


def is_teacher_of(user: User | None, story: Story) -> bool:
    """The teacher who moderates a story first: its class's teacher, or a teacher/coordinator
    of the organisation it was submitted through."""
    if user is None or not user.has_role(Role.TEACHER):
        return False
    klass = story_class(story)
    if klass is not None:
        return klass.teacher_id == user.id
    return story.organisation_id is not None and story.organisation_id == user.organisation_id


def is_owner(user: User | None, story: Story) -> bool:
    return (
        user is not None and story.submitted_by_id is not None and story.submitted_by_id == user.id
    )


def can_view(story: Story, user: User | None, status_token: str | None = None) -> bool:
    if story.is_public:
        return True
    if status_token and hmac.compare_digest(
        status_token.encode("utf-8", "surrogatepass"), (story.status_token or "").encode()
    ):  # bytes: compare_digest refuses non-ASCII str, which would be a 500 telling ids apart
        return True
    if user is None:
        return False
    if user.is_staff or is_owner(user, story):
        return True
    # A teacher sees their students' work once it is handed in, never their drafts.
    return story.status != StoryStatus.DRAFT.value and is_teacher_of(user, story)


def require_view(story: Story | None, user: User | None, status_token: str | None = None) -> Story:
    """Return the story, or 404 — never 403, which would confirm that an unpublished id exists."""
    if story is None or not can_view(story, user, status_token):
        raise NotFound(gettext("no such story"))
    return story


def require_archivist(user: User | None) -> User:
    if user is None:
        raise AuthenticationRequired(gettext("log in as an archivist to do this"))
    if not user.has_role(Role.ARCHIVIST, Role.ADMIN):
        raise Forbidden(gettext("only archivists can review stories"))
    return user


def require_teacher_or_staff(user: User | None) -> User:
    if user is None:
        raise AuthenticationRequired(gettext("log in as a teacher or archivist to do this"))
    if not user.has_role(Role.TEACHER, Role.ARCHIVIST, Role.ADMIN):
        raise Forbidden(gettext("only teachers and archivists can see this page"))
    return user


def require_admin(user: User | None) -> User:
    if user is None:
        raise AuthenticationRequired(gettext("log in as an administrator to do this"))
    if not user.has_role(Role.ADMIN):
        raise Forbidden(gettext("only administrators can do this"))
    return user


def require_contributor(user: User | None) -> User:
    if user is None:
        raise AuthenticationRequired(gettext("send an API token: Authorization: Bearer <token>"))
    return user


def listable_by(user: User) -> ColumnElement[bool]:
    """The stories ``user`` may find in a staff listing, as one SQL condition.

    The same rules as :func:`can_view` and :func:`is_teacher_of`, for whole sets: staff list
    every story; a teacher lists the handed-in (non-draft) stories of their classes — the
    story's class, else its author's class, else, with no class at all, the teacher's
    organisation — and anyone lists the stories they submitted. Published stories of others are
    not *listed* here (public search and pages show those).
    """
    if user.is_staff:
        return true()
    own = Story.submitted_by_id == user.id
    if not user.has_role(Role.TEACHER):
        return own
    taught = db.select(SchoolClass.id).where(SchoolClass.teacher_id == user.id)
    author_class = (
        db.select(User.class_id).where(User.id == Story.submitted_by_id).scalar_subquery()
    )
    by_class = or_(
        Story.class_id.in_(taught),
        and_(Story.class_id.is_(None), author_class.in_(taught)),
    )
    conditions = [by_class]
    if user.organisation_id is not None:
        conditions.append(
            and_(
                Story.class_id.is_(None),
                author_class.is_(None),
                Story.organisation_id == user.organisation_id,
            )
        )
    return or_(own, and_(Story.status != StoryStatus.DRAFT.value, or_(*conditions)))
