"""Collections through /api/v1/collections: archivists create and change them with a token; the
curation screens and the API share one service."""

from __future__ import annotations

import pytest

from tests.conftest import story_metadata


@pytest.fixture
def archivist(make_user, api_token) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token(make_user('archivist'))}"}


@pytest.fixture
def published_stories(app, make_user, api_token, submit_via_api, publish):
    def make(count: int) -> list[int]:
        token = api_token(make_user("contributor"))
        ids = []
        for n in range(count):
            story_id = submit_via_api(token, story_metadata(title=f"Histoire {n}")).json["id"]
            publish(story_id)
            ids.append(story_id)
        return ids

    return make


def test_archivist_creates_a_published_collection_in_one_call(client, archivist, published_stories):
    first, second = published_stories(2)
    response = client.post(
        "/api/v1/collections",
        json={
            "title": "Le bidonville de Champigny, 1956–1971",
            "introduction": "Des **témoignages** et des documents.",
            "story_ids": [second, first],
            "published": True,
        },
        headers=archivist,
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["slug"] == "le-bidonville-de-champigny-1956-1971"
    assert body["url"] == f"http://passages.test/collections/{body['slug']}"
    assert isinstance(body["id"], int) and body["story_ids"] == [second, first]
    assert response.headers["Location"].endswith(f"/api/v1/collections/{body['id']}")
    public = client.get(f"/api/v1/collections/{body['slug']}").json
    assert [s["id"] for s in public["stories"]] == [second, first]
    assert client.get(f"/collections/{body['slug']}").status_code == 200


def test_put_replaces_and_patch_changes_only_what_is_sent(client, archivist, published_stories):
    a, b, c = published_stories(3)
    created = client.post(
        "/api/v1/collections",
        json={"title": "Brouillon", "introduction": "Intro", "story_ids": [a, b]},
        headers=archivist,
    ).json
    assert created["published"] is False
    url = f"/api/v1/collections/{created['id']}"
    patched = client.patch(url, json={"published": True}, headers=archivist)
    assert patched.status_code == 200, patched.json
    assert patched.json["story_ids"] == [a, b] and patched.json["introduction"] == "Intro"
    assert patched.json["published"] is True
    # Renamed, its address stays.
    renamed = client.patch(url, json={"title": "Mémoires"}, headers=archivist).json
    assert renamed["title"] == "Mémoires" and renamed["slug"] == created["slug"]
    replaced = client.put(
        f"/api/v1/collections/{created['id']}",
        json={"title": "Mémoires", "story_ids": [c, a]},
        headers=archivist,
    )
    assert replaced.status_code == 200, replaced.json
    assert replaced.json["story_ids"] == [c, a]
    assert replaced.json["introduction"] == "" and replaced.json["published"] is False
    # By short name too, and GET answers the archivist's document, drafts included.
    got = client.get(f"/api/v1/collections/{created['slug']}", headers=archivist)
    assert got.status_code == 200 and got.json["id"] == created["id"]
    assert got.json["story_ids"] == [c, a]
    # The public never sees the draft.
    assert client.get(f"/api/v1/collections/{created['slug']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "  "}, "title"),
        ({"introduction": "sans titre"}, "title"),
        ({"title": "X", "story_ids": [999999]}, "story_ids"),
        ({"title": "X", "story_ids": ["1"]}, "story_ids"),
        ({"title": "X", "published": "yes"}, "published"),
        ({"title": "X", "colour": "red"}, "colour"),
        ({"title": "X", "introduction": "x" * 20_001}, "introduction"),
    ],
)
def test_bad_collections_are_refused_with_the_field(client, archivist, body, field):
    response = client.post("/api/v1/collections", json=body, headers=archivist)
    assert response.status_code == 422, response.json
    assert response.json["error"]["field"] == field


def test_unpublished_story_is_refused_and_nothing_changes(
    app, client, archivist, published_stories, make_user, api_token, submit_via_api
):
    (story,) = published_stories(1)
    waiting = submit_via_api(api_token(make_user("contributor")), story_metadata()).json["id"]
    created = client.post(
        "/api/v1/collections", json={"title": "Ensemble", "story_ids": [story]}, headers=archivist
    ).json
    response = client.patch(
        f"/api/v1/collections/{created['id']}",
        json={"title": "Autre titre", "story_ids": [story, waiting]},
        headers=archivist,
    )
    assert response.status_code == 422
    assert str(waiting) in response.json["error"]["message"]
    after = client.get(f"/api/v1/collections/{created['id']}", headers=archivist).json
    assert after["title"] == "Ensemble" and after["story_ids"] == [story]


def test_slug_clash_is_422(client, archivist):
    assert client.post("/api/v1/collections", json={"title": "Mémoires"}, headers=archivist)
    clash = client.post(
        "/api/v1/collections", json={"title": "Autre", "slug": "memoires"}, headers=archivist
    )
    assert clash.status_code == 422 and clash.json["error"]["field"] == "slug"


def test_only_archivists_write_collections(client, make_user, api_token, archivist):
    created = client.post("/api/v1/collections", json={"title": "A"}, headers=archivist).json
    for role in ("contributor", "teacher"):
        headers = {"Authorization": f"Bearer {api_token(make_user(role))}"}
        assert (
            client.post("/api/v1/collections", json={"title": "B"}, headers=headers).status_code
            == 403
        )
        url = f"/api/v1/collections/{created['id']}"
        assert client.patch(url, json={"title": "C"}, headers=headers).status_code == 403
        assert client.put(url, json={"title": "C"}, headers=headers).status_code == 403
        # A draft stays invisible to them.
        assert client.get(url, headers=headers).status_code == 404
    assert client.post("/api/v1/collections", json={"title": "B"}).status_code == 401


def test_unknown_collection_is_404(client, archivist):
    response = client.patch("/api/v1/collections/4242", json={"title": "X"}, headers=archivist)
    assert response.status_code == 404


def test_field_errors_are_in_the_caller_s_language_and_keep_the_field(client, archivist):
    french = {**archivist, "Accept-Language": "fr"}
    response = client.post(
        "/api/v1/collections", json={"title": 3, "colour": "bleu"}, headers=french
    )

    assert response.status_code == 422
    said = {d["field"]: d["message"] for d in response.json["error"]["details"]}
    assert said["title"] == "Titre : doit être du texte"
    assert said["colour"].startswith(
        "« colour » n’est pas un champ connu (champs possibles : title"
    )
    english = client.post("/api/v1/collections", json={"title": 3}, headers=archivist)
    assert english.json["error"]["details"][0]["message"] == "Title: must be a string of text"
