"""The public read API, as an integration without a token uses it: published stories only, the
search page's filters, cursor pages that reach every story once, ETags and Cache-Control, and
every payload valid against its JSON Schema in schemas/."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from schemas import load_schema
from tests.conftest import issue_token_now


def valid(name: str, body: dict) -> dict:
    schema = load_schema(f"{name}.schema.json")
    Draft202012Validator.check_schema(schema)
    errors = list(Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(body))
    assert errors == [], [e.message for e in errors]
    return body


def every_page(client, query: str = "", limit: int = 2) -> tuple[list[dict], int]:
    """Follow ``next`` to the end; every page is checked against the schema."""
    found, cursor, total = [], None, None
    while True:
        params = f"limit={limit}" + (f"&{query}" if query else "")
        if cursor:
            params += f"&cursor={cursor}"
        response = client.get(f"/api/v1/stories?{params}")
        assert response.status_code == 200, response.json
        body = valid("public-story-list", response.json)
        total = body["total"] if total is None else total
        found += body["results"]
        cursor = body["next"]
        if cursor is None:
            return found, total


def test_without_a_token_the_listing_is_published_stories_only(client, archive):
    published = [archive.story(title=f"Publiée {n}") for n in range(5)]
    archive.story(publish=False, title="En attente")
    archive.act("withdraw", published[0])
    stories, total = every_page(client)
    assert total == 4
    assert [s["id"] for s in stories] == sorted(published[1:], reverse=True)  # newest first
    first = stories[-1]
    assert first["title"] == "Publiée 1"
    assert first["licence_url"] == "https://creativecommons.org/licenses/by/4.0/"
    assert client.get(first["url"]).status_code == 200
    assert client.get(first["api_url"]).json["status"] == "published"
    oldest, _ = every_page(client, "order=oldest", limit=3)
    assert [s["id"] for s in oldest] == sorted(published[1:])


def test_the_search_filters_narrow_the_public_listing(client, archive):
    organisation = archive.organisation("Mémoires du Val-de-Marne")
    a = archive.story(title="Au marché", themes=["work"], places=["Vitry-sur-Seine"],
                      period="1962", organisation_id=organisation)  # fmt: skip
    b = archive.story(title="La rentrée", body="Le premier jour d'école.", themes=["school"],
                      places=["Ivry-sur-Seine"],
                      period="1975", language="ar")  # fmt: skip
    c = archive.story(title="Le marché du dimanche", themes=["work"], places=["Ivry-sur-Seine"],
                      period="1985")  # fmt: skip
    hidden = archive.story(publish=False, title="Le marché caché", themes=["work"])
    archive.index(a, b, c, hidden)
    archive.collection("Marchés", [a, c])

    def ids(query: str) -> set[int]:
        return {s["id"] for s in every_page(client, query)[0]}

    assert ids("q=marché") == {a, c}
    assert ids("theme=work") == {a, c}
    assert ids("place=Ivry-sur-Seine") == {b, c}
    assert ids("decade=1970") == {b}
    assert ids("language=ar") == {b}
    assert ids("theme=work&place=Ivry-sur-Seine") == {c}
    assert ids(f"organisation={organisation}") == {a}
    assert ids("collection=marches") == {a, c}
    assert ids("q=marché&decade=1980") == {c}
    assert client.get("/api/v1/stories?status=submitted").status_code == 400
    assert client.get("/api/v1/stories?collection=nowhere").status_code == 404
    assert client.get("/api/v1/stories?limit=0").status_code == 400
    assert client.get("/api/v1/stories?cursor=garbage").status_code == 400


def test_with_a_token_the_staff_listing_answers_as_before(app, client, archive):
    from tests.conftest import create_user_now

    archive.story(title="Publiée")
    waiting = archive.story(publish=False, title="En attente")
    with app.app_context():
        create_user_now("reader-archivist@example.org", "archivist")
        token = issue_token_now("reader-archivist@example.org")
    staff = client.get(
        "/api/v1/stories?status=submitted", headers={"Authorization": f"Bearer {token}"}
    )
    assert staff.status_code == 200
    assert [s["id"] for s in staff.json["results"]] == [waiting]
    assert staff.json["results"][0]["status"] == "submitted"
    assert "ETag" not in staff.headers


@pytest.mark.parametrize(
    ("path", "schema"),
    [
        ("/api/v1/stories", "public-story-list"),
        ("/api/v1/collections", "public-collection-list"),
        ("/api/v1/collections/marches", "public-collection"),
        ("/api/v1/organisations", "public-organisation-list"),
        ("/api/v1/places", "public-place-list"),
    ],
)
def test_public_answers_are_cacheable_and_revalidate_with_their_etag(client, archive, path, schema):
    organisation = archive.organisation("Mémoires du 94")
    story_id = archive.story(images=1, organisation_id=organisation)
    archive.collection("Marchés", [story_id])
    response = client.get(path)
    assert response.status_code == 200
    valid(schema, response.json)
    assert response.headers["Cache-Control"] == "public, max-age=5, must-revalidate"
    etag = response.headers["ETag"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    archive.edit(story_id, title="Un autre titre")
    archive.story(places=["Ivry-sur-Seine"], organisation_id=organisation)  # counts change too
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_collections_organisations_and_places_show_only_what_is_public(client, archive):
    organisation = archive.organisation("Centre social des Portes")
    quiet = archive.organisation("Association sans histoire publiée")
    shown = archive.story(
        title="Au marché", places=["Vitry-sur-Seine"], organisation_id=organisation
    )
    hidden = archive.story(publish=False, places=["Oran"], organisation_id=quiet)
    archive.collection("Marchés", [shown])
    archive.collection("Brouillon", [shown], published=False)

    collections = valid("public-collection-list", client.get("/api/v1/collections").json)
    assert [c["title"] for c in collections["results"]] == ["Marchés"]
    assert collections["results"][0]["story_count"] == 1
    detail = valid("public-collection", client.get("/api/v1/collections/marches").json)
    assert [s["id"] for s in detail["stories"]] == [shown]
    assert client.get("/api/v1/collections/brouillon").status_code == 404

    organisations = valid("public-organisation-list", client.get("/api/v1/organisations").json)
    assert [o["name"] for o in organisations["results"]] == ["Centre social des Portes"]
    listed = client.get(organisations["results"][0]["stories_url"]).json
    assert [s["id"] for s in listed["results"]] == [shown]

    places = valid("public-place-list", client.get("/api/v1/places").json)["results"]
    counts = {p["name"]: p["story_count"] for p in places}
    assert counts["Vitry-sur-Seine"] == 1
    assert all(n == 0 for name, n in counts.items() if name != "Vitry-sur-Seine")
    assert hidden  # its place and organisation count nothing
