"""No answer to a signed-in person can be kept by a shared cache (a proxy, a school's web
filter) unless it says it is public: every page either declares ``public`` (what it shows is the
same for everyone) or is ``private``/``no-store``. Routes are read from the app's URL map, so a
new page cannot forget."""

from __future__ import annotations

import pytest

SKIPPED_ENDPOINTS = {"static", "accounts.logout"}


def _pages_without_arguments(app) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments or rule.endpoint in SKIPPED_ENDPOINTS:
            continue
        paths.append(rule.rule)
    return sorted(paths)


@pytest.mark.parametrize("role", ["archivist", "teacher", "contributor"])
def test_every_page_for_a_signed_in_person_says_how_it_may_be_kept(
    app, client, login, role: str
) -> None:
    login(role)
    undeclared = []
    checked = 0
    for path in _pages_without_arguments(app):
        response = client.get(path)
        if response.status_code != 200:
            continue
        checked += 1
        policy = response.headers.get("Cache-Control") or ""
        if not any(word in policy for word in ("public", "private", "no-store")):
            undeclared.append(f"{path} ({policy or 'no Cache-Control'})")
    assert checked > 20
    assert undeclared == [], "\n".join(undeclared)
