"""The interface-language tests reuse the moderation tests' small school world."""

from tests.moderation.conftest import new_story, user, world  # noqa: F401 - fixtures
