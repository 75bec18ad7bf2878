"""Login throttling: back-off per account name and per address, never a permanent lock; the
same answer for unknown accounts; parallel bursts get no more guesses than allowed; admins see
and lift back-offs."""

from __future__ import annotations

import concurrent.futures
import re
import time

import pytest
import requests

from tests.conftest import PASSWORD
from tests.security.conftest import class_login, login


def _free(app) -> int:
    return app.extensions["passages.settings"].login_free_attempts


def test_back_off_after_the_free_attempts_then_the_right_password_works(app, world):
    from webapp.extensions import db
    from webapp.models import LoginThrottle

    client = app.test_client()
    for _ in range(_free(app)):
        assert login(client, "teacher@example.org", "wrong").status_code == 401
    waiting = login(client, "teacher@example.org")  # even the right password waits
    assert waiting.status_code == 429
    first_wait = int(waiting.headers["Retry-After"])
    assert 0 < first_wait <= app.extensions["passages.settings"].login_backoff_seconds
    # The wait ends by itself (no permanent lock): move the clock past it.
    with app.app_context():
        row = db.session.get(LoginThrottle, "account:teacher@example.org")
        row.blocked_until = int(time.time()) - 1
        db.session.commit()
    wrong_again = login(client, "teacher@example.org", "wrong")
    assert wrong_again.status_code == 401
    doubled = login(client, "teacher@example.org")
    assert doubled.status_code == 429
    assert int(doubled.headers["Retry-After"]) > first_wait  # exponential back-off
    with app.app_context():
        row = db.session.get(LoginThrottle, "account:teacher@example.org")
        row.blocked_until = int(time.time()) - 1
        db.session.commit()
    assert login(client, "teacher@example.org").status_code == 302
    with app.app_context():
        assert db.session.get(LoginThrottle, "account:teacher@example.org").failures == 0


def test_unknown_and_real_accounts_get_identical_answers(app, world):
    def answers(email):
        client = app.test_client()
        seen = []
        for _ in range(_free(app) + 2):
            response = login(client, email, "wrong")
            body = response.get_data(as_text=True).replace(email, "EMAIL")
            body = re.sub(r'name="csrf_token" value="[^"]*"', "", body)
            body = re.sub(r"\d+ s", "N s", re.sub(r"\b\d+\b", "N", body))  # seconds left
            seen.append((response.status_code, "Retry-After" in response.headers, body))
        return seen

    real, unknown = answers("teacher@example.org"), answers("nobody-here@example.org")
    assert [(s, r) for s, r, _ in real] == [(s, r) for s, r, _ in unknown]
    assert [b for _, _, b in real] == [b for _, _, b in unknown]
    assert real[-1][0] == 429


def test_class_login_answers_alike_for_unknown_codes_names_and_wrong_access_codes(app, world):
    variants = [
        ("ZZZZZZ", "Amina", "AAAA-AAAA"),  # unknown class code
        (world.class_code, "Nobody", "AAAA-AAAA"),  # unknown pseudonym
        (world.class_code, "Amina", "AAAA-AAAA"),  # wrong access code
        ("", "", ""),
    ]
    bodies = set()
    for code, name, access in variants:
        response = class_login(app.test_client(), code, name, access)
        assert response.status_code == 401
        text = response.get_data(as_text=True)
        text = re.sub(r'name="csrf_token" value="[^"]*"', "", text)
        text = re.sub(r'value="[^"]*"', "", text)  # the echoed form fields
        bodies.add(text)
    assert len(bodies) == 1


def test_per_address_back_off_stops_spraying_many_accounts(tmp_path):
    from tests.conftest import _dispose, build_app

    app = build_app(tmp_path / "data", LOGIN_ADDRESS_FREE_ATTEMPTS="4", LOGIN_FREE_ATTEMPTS="50")
    try:
        client = app.test_client()
        statuses = [login(client, f"user{n}@example.org", "wrong").status_code for n in range(6)]
        assert statuses[:4] == [401] * 4 and statuses[4:] == [429, 429]
    finally:
        _dispose(app)


def test_admin_sees_and_lifts_a_back_off(app, world):
    client = app.test_client()
    for _ in range(_free(app)):
        login(client, "teacher@example.org", "wrong")
    admin = app.test_client()
    assert login(admin, "admin@example.org").status_code == 302
    page = admin.get("/admin/throttled").get_data(as_text=True)
    assert "account:teacher@example.org" in page
    lifted = admin.post("/admin/throttled", data={"key": "account:teacher@example.org"})
    assert lifted.status_code == 303
    assert "account:teacher@example.org" not in admin.get("/admin/throttled").get_data(as_text=True)
    assert login(app.test_client(), "teacher@example.org").status_code == 302


@pytest.mark.slow
@pytest.mark.parametrize("burst", [12, 30])
def test_parallel_burst_gets_no_more_guesses_than_allowed(app, world, live_server, burst):
    """Many simultaneous wrong logins on a real threaded server: at most the free attempts are
    checked (401); every other one waits (429). The counter never loses an update."""
    free = _free(app)

    def attempt(password):
        with requests.Session() as session:
            return session.post(
                f"{live_server.url}/login",
                data={"email": "teacher@example.org", "password": password},
                allow_redirects=False,
                timeout=60,
            ).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=burst) as pool:
        statuses = list(pool.map(attempt, [f"guess-{n}" for n in range(burst)]))
    assert statuses.count(401) == free, statuses
    assert statuses.count(429) == burst - free, statuses
    # And the right password is refused too while the back-off lasts.
    assert attempt(PASSWORD) == 429
