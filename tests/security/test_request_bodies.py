"""Bodies are bounded before they are read: a huge text field or metadata part, too many parts,
or a big body on a form that takes no images gets 413 at once, with a specific error (JSON on the
API, a page on forms), and nothing is stored."""

from __future__ import annotations

import io
import json

import pytest

from tests.conftest import story_metadata

KB = 1024


def _story_count(app) -> int:
    from webapp.extensions import db
    from webapp.models import Story

    with app.app_context():
        return db.session.scalar(db.select(db.func.count(Story.id)))


@pytest.fixture
def token(app, make_user, api_token):
    return api_token(make_user("contributor"))


def _limit(app) -> int:
    return app.extensions["passages.settings"].max_form_field_kb * KB


def test_huge_metadata_field_on_the_api_is_413_json(app, client, token):
    metadata = json.dumps(story_metadata(body="x" * (_limit(app) + 10)))
    response = client.post(
        "/api/v1/stories",
        data={"metadata": metadata},
        headers={"Authorization": f"Bearer {token}"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert response.json["error"]["code"] == "too_large"
    assert "text field or metadata part" in response.json["error"]["message"]
    assert _story_count(app) == 0


@pytest.mark.parametrize("size", [lambda limit: limit + 1, lambda limit: 8 * limit])
def test_metadata_sent_as_a_file_part_is_read_only_up_to_the_limit(app, client, token, size):
    metadata = json.dumps(story_metadata()).encode()
    blob = metadata + b" " * (size(_limit(app)) - len(metadata))
    response = client.post(
        "/api/v1/stories",
        data={"metadata": (io.BytesIO(blob), "metadata.json")},
        headers={"Authorization": f"Bearer {token}"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert response.json["error"]["field"] == "metadata"
    assert _story_count(app) == 0


def test_a_story_at_the_schema_maximum_still_fits(app, client, token):
    """200,000 characters of Tamil (3 bytes each in UTF-8, 6 as JSON escapes) are accepted."""
    metadata = json.dumps(story_metadata(body="த" * 200_000, language="ta"))
    response = client.post(
        "/api/v1/stories",
        data={"metadata": metadata},
        headers={"Authorization": f"Bearer {token}"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 202, response.json


def test_huge_text_field_on_the_submission_form_is_a_413_page(app, client):
    response = client.post(
        "/submit",
        data={"title": "t", "body": "y" * (_limit(app) + 1), "consent": "yes"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    assert "KB" in response.get_data(as_text=True)
    assert _story_count(app) == 0


@pytest.mark.parametrize("path", ["/takedown", "/login", "/join", "/class-login"])
def test_forms_without_images_refuse_big_bodies(app, client, path):
    limit = app.extensions["passages.settings"].max_request_kb * KB
    response = client.post(path, data={"reason": "z" * (limit + 1)})
    assert response.status_code == 413, path
    response = client.post(
        path,
        data={"file": (io.BytesIO(b"0" * (limit + 1)), "f.bin")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413, path


def test_api_json_bodies_are_bounded(app, client, world, token_for):
    limit = app.extensions["passages.settings"].max_request_kb * KB
    response = client.post(
        "/api/v1/takedown-requests",
        data=json.dumps({"reason": "r" * (limit + 1)}),
        content_type="application/json",
    )
    assert response.status_code == 413
    assert response.json["error"]["code"] == "too_large"


def test_too_many_parts_is_413(app, client, token):
    parts = app.extensions["passages.settings"].max_form_parts
    data = {f"field{n}": "v" for n in range(parts + 5)}
    data["metadata"] = json.dumps(story_metadata())
    response = client.post(
        "/api/v1/stories",
        data=data,
        headers={"Authorization": f"Bearer {token}"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert _story_count(app) == 0
