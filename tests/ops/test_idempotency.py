"""Idempotency keys: a client that retries a submission gets the first answer, not a new story."""

from __future__ import annotations

import io
import json
import re
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import _dispose, build_app, make_jpeg, story_metadata


def _post(client, token: str, key: str | None, metadata=None, seed: int = 1):
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(
        "/api/v1/stories",
        data={
            "metadata": json.dumps(metadata or story_metadata()),
            "images": [(io.BytesIO(make_jpeg(seed=seed)), "photo.jpg")],
        },
        headers=headers,
        content_type="multipart/form-data",
    )


def _story_count(app) -> int:
    from webapp.extensions import db
    from webapp.models import Story

    with app.app_context():
        return db.session.scalar(db.select(db.func.count(Story.id)))


@pytest.fixture
def token(make_user, api_token) -> str:
    return api_token(make_user("contributor"))


def test_the_same_key_returns_the_first_answer_and_creates_one_story(app, client, token):
    first = _post(client, token, "retry-me-1")
    again = _post(client, token, "retry-me-1")

    assert first.status_code == again.status_code == 202
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _story_count(app) == 1


def test_the_same_key_with_another_body_is_refused_clearly(app, client, token):
    _post(client, token, "one-key")

    other = _post(client, token, "one-key", story_metadata(title="Un autre récit"))
    other_image = _post(client, token, "one-key", seed=2)

    for response in (other, other_image):
        assert response.status_code == 422
        error = response.get_json()["error"]
        assert error["code"] == "idempotency_key_reused"
        assert "one-key" in error["message"] and "new key" in error["message"]
    assert _story_count(app) == 1


def test_keys_belong_to_their_caller_and_last_24_hours(app, client, token, make_user, api_token):
    other_token = api_token(make_user("contributor"))

    _post(client, token, "shared-key")
    _post(client, other_token, "shared-key")
    assert _story_count(app) == 2

    from webapp.extensions import db
    from webapp.models import IdempotencyRecord

    with app.app_context():
        for record in db.session.scalars(db.select(IdempotencyRecord)):
            record.created_at = record.created_at - timedelta(hours=25)
        db.session.commit()
    later = _post(client, token, "shared-key")

    assert later.status_code == 202 and "Idempotent-Replayed" not in later.headers
    assert _story_count(app) == 3


def test_without_a_key_every_request_creates_a_story(app, client, token):
    _post(client, token, None)
    _post(client, token, None)

    assert _story_count(app) == 2


@pytest.mark.parametrize("bad", ["x" * 256, "clé-accentuée", "with space"])
def test_an_unusable_key_is_a_clear_400(app, client, token, bad):
    response = client.post(
        "/api/v1/stories",
        data={"metadata": json.dumps(story_metadata())},
        headers={
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": bad.encode().decode("latin-1"),
        },
        content_type="multipart/form-data",
    )

    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "Idempotency-Key"
    assert _story_count(app) == 0


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_app(request: pytest.FixtureRequest, tmp_path: Path):
    env = {}
    if request.param == "postgresql":
        env["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    app = build_app(tmp_path / "data", **env)
    yield app
    _dispose(app)


def test_concurrent_requests_with_one_key_create_one_story(any_db_app):
    from tests.conftest import create_user_now
    from webapp.extensions import db
    from webapp.models import ApiToken, User

    app = any_db_app
    with app.app_context():
        user, _ = create_user_now("c@example.org", "contributor", "long-password-1")
        row, token = ApiToken.issue(db.session.get(User, user.id), "test")
        db.session.add(row)
        db.session.commit()
    answers = []
    start = threading.Barrier(4)

    def send() -> None:
        client = app.test_client()
        start.wait()
        answers.append(_post(client, token, "double-click"))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert [a.status_code for a in answers] == [202] * 4
    assert len({a.get_json()["id"] for a in answers}) == 1
    assert _story_count(app) == 1


def test_the_form_carries_a_key_and_a_resend_hands_in_once(app, client):
    page = client.get("/submit").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    form = {
        "title": "Le marché",
        "body": "Le samedi au marché.",
        "language": "fr",
        "licence": "CC-BY-4.0",
        "consent": "yes",
        "idempotency_key": key,
    }

    first = client.post("/submit", data=dict(form), content_type="multipart/form-data")
    again = client.post("/submit", data=dict(form), content_type="multipart/form-data")
    other = client.post(
        "/submit", data={**form, "title": "Autre"}, content_type="multipart/form-data"
    )

    assert first.status_code == 303, first.get_data(as_text=True)[:2000]
    assert again.status_code == 303 and again.headers["Location"] == first.headers["Location"]
    assert other.status_code == 422
    assert _story_count(app) == 1


def test_openapi_documents_the_header(client):
    operation = client.get("/api/v1/openapi.json").get_json()["paths"]["/stories"]["post"]

    names = [p.get("name") for p in operation.get("parameters", [])]
    assert "Idempotency-Key" in names
    assert "422" in operation["responses"]
