"""A refused submission names the field in words a person understands, in their language;
programs still get the field's path (``field`` in the API's JSON)."""

from __future__ import annotations

import io
import json

import pytest

from tests.conftest import make_jpeg, story_metadata


@pytest.fixture
def token(app, make_user, api_token) -> str:
    return api_token(make_user("contributor"))


def _post(app, token: str, metadata: dict, language: str | None = None):
    headers = {"Authorization": f"Bearer {token}"}
    if language:
        headers["Accept-Language"] = language
    return app.test_client().post(
        "/api/v1/stories",
        data={"metadata": json.dumps(metadata), "images": [(io.BytesIO(make_jpeg()), "a.jpg")]},
        headers=headers,
        content_type="multipart/form-data",
    )


def test_an_empty_place_is_named_by_its_number_in_french_and_english(app, token):
    metadata = story_metadata(places=["Ivry-sur-Seine", "   "])

    french = _post(app, token, metadata, "fr")
    english = _post(app, token, metadata)

    assert french.status_code == english.status_code == 422
    assert french.json["error"]["message"] == "Lieu n° 2 : le nom est obligatoire"
    assert english.json["error"]["message"] == "Place no. 2: the name is required"
    for answer in (french, english):
        assert answer.json["error"]["field"] == "places.1"  # the path, for programs
        assert answer.json["error"]["details"][0]["field"] == "places.1"


def test_every_problem_names_its_field_in_words(app, token):
    metadata = story_metadata(title="x" * 301, licence="free")
    del metadata["language"]

    error = _post(app, token, metadata, "fr").json["error"]

    said = {d["field"]: d["message"] for d in error["details"]}
    assert said["language"] == "Langue du texte : obligatoire"
    assert said["title"] == "Titre : trop long (300 caractères au plus)"
    assert said["licence"].startswith("Licence : choisir parmi CC-BY-4.0")
    assert not any("language" in m or "title" in m for m in said.values())


def test_the_form_names_the_field_in_french(client):
    response = client.post(
        "/submit",
        data={
            "title": "x" * 301,
            "body": "Un texte.",
            "language": "fr",
            "licence": "CC-BY-4.0",
            "consent": "yes",
        },
        content_type="multipart/form-data",
    )

    assert response.status_code == 422
    assert "Titre : trop long (300 caractères au plus)" in response.get_data(as_text=True)
