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


def _post_raw(app, token: str, fields: dict, language: str):
    return app.test_client().post(
        "/api/v1/stories",
        data=fields,
        headers={"Authorization": f"Bearer {token}", "Accept-Language": language},
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize(
    ("fields", "french", "english"),
    [
        (
            lambda: {"metadata": '{"title": "Le marché",\n "body": }'},
            "La description de l’histoire n’est pas du JSON valide : voyez la ligne 2, "
            "caractère 10",
            "The description of the story is not valid JSON: look at line 2, character 10",
        ),
        (
            lambda: {"metadata": "[" * 100_000},
            "La description de l’histoire est trop imbriquée : 32 niveaux de listes et de "
            "groupes de champs au plus",
            "The description of the story is nested too deeply: at most 32 levels of lists "
            "and groups of fields",
        ),
        (
            lambda: {
                "metadata": json.dumps(story_metadata()),
                "photo": (io.BytesIO(make_jpeg()), "a.jpg"),
            },
            "La partie nommée « photo » n’est pas attendue : envoyez images, enregistrements "
            "et vidéos dans des parties nommées « files » (ou « images »)",
            "The part named “photo” is not expected: send images, recordings and videos as "
            "parts named “files” (or “images”)",
        ),
    ],
)
def test_a_story_the_api_cannot_read_is_refused_in_the_callers_language(
    app, token, fields, french, english
):
    answers = {lang: _post_raw(app, token, fields(), lang) for lang in ("fr", "en")}

    assert answers["fr"].status_code == answers["en"].status_code == 400
    assert answers["fr"].json["error"]["message"] == french
    assert answers["en"].json["error"]["message"] == english


def test_a_json_endpoint_sent_something_else_answers_in_french(app, make_user, api_token):

    token = api_token(make_user("contributor"))
    answer = app.test_client().post(
        "/api/v1/takedown-requests",
        data="story=1",
        content_type="text/plain",
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "fr"},
    )

    assert answer.status_code == 400
    assert answer.json["error"]["message"] == (
        "envoyez les champs dans un seul objet JSON (noms et valeurs entre accolades), avec "
        "l’en-tête Content-Type: application/json"
    )
