"""Who may see and do what with a story. Every view and API endpoint asks here.

The rule the public relies on: a story that is not published is invisible to anyone who is not
its submitter, a member of staff, or holding its private status link.
"""

from __future__ import annotations

import hmac

from webapp.errors import AuthenticationRequired, Forbidden, NotFound
from webapp.models import Role, Story, User


def can_view(story: Story, user: User | None, status_token: str | None = None) -> bool:
    if story.is_public:
        return True
    if status_token and hmac.compare_digest(status_token, story.status_token):
        return True
    if user is None:
        return False
    if user.is_staff:
        return True
    return story.submitted_by_id is not None and story.submitted_by_id == user.id


def require_view(story: Story | None, user: User | None, status_token: str | None = None) -> Story:
    """Return the story, or 404 — never 403, which would confirm that an unpublished id exists."""
    if story is None or not can_view(story, user, status_token):
        raise NotFound("no such story")
    return story


def require_archivist(user: User | None) -> User:
    if user is None:
        raise AuthenticationRequired("log in as an archivist to do this")
    if not user.has_role(Role.ARCHIVIST, Role.ADMIN):
        raise Forbidden("only archivists can review stories")
    return user


def require_contributor(user: User | None) -> User:
    if user is None:
        raise AuthenticationRequired("send an API token: Authorization: Bearer <token>")
    return user
