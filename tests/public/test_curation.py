"""Archivists curate collections and places; the public sees only what is published, in order."""

from __future__ import annotations

import re

from tests.public.htmlcheck import check_html


def _titles_in_order(html: str) -> list[str]:
    return re.findall(r'<h3 lang="[^"]+" dir="\w+"><a href="[^"]+">([^<]+)</a>', html)


def test_archivist_builds_orders_publishes_and_features_a_collection(client, login, make_story):
    first = make_story("Première histoire", media=1)
    second = make_story("Deuxième histoire")
    third = make_story("Troisième histoire")
    login("archivist")
    response = client.post(
        "/curation/collections/new",
        data={"title": "Les marchés du 94", "introduction": "Des *marchés* et des **gens**."},
    )
    assert response.status_code == 302
    edit_url = response.headers["Location"]
    collection_id = int(edit_url.rstrip("/").rsplit("/", 1)[1])
    for story_id in (first, second, third):
        client.post(f"/curation/collections/{collection_id}/items", data={"story_id": story_id})
    edit_page = client.get(edit_url).text
    assert check_html(edit_page) == []
    # A draft collection is invisible to the public.
    client.post("/logout")
    assert client.get("/collections/les-marches-du-94").status_code == 404
    login("archivist")

    item_ids = [int(i) for i in re.findall(r'id="item-(\d+)"', edit_page)]
    # No-JS reorder, both ways: "move down" on the first item, then typed positions.
    client.post(
        f"/curation/collections/{collection_id}/items/{item_ids[0]}/move",
        data={"direction": "down"},
    )
    client.post(
        f"/curation/collections/{collection_id}/order",
        data={f"position-{item_ids[2]}": "1", f"position-{item_ids[1]}": "2",
              f"position-{item_ids[0]}": "3"},
    )  # fmt: skip
    client.post(
        edit_url,
        data={
            "title": "Les marchés du 94",
            "slug": "",
            "introduction": "Des *marchés*.<script>alert(1)</script>[x](javascript:alert(1))",
            "published": "yes",
            "featured": "yes",
        },
    )
    client.post("/logout")
    page = client.get("/collections/les-marches-du-94")
    assert page.status_code == 200
    html = page.text
    assert check_html(html) == []
    assert _titles_in_order(html) == ["Troisième histoire", "Deuxième histoire",
                                      "Première histoire"]  # fmt: skip
    assert "<em>marchés</em>" in html
    assert "<script>" not in html and 'href="javascript' not in html
    home = client.get("/").text
    assert "Collections à la une" in home and "Les marchés du 94" in home
    assert 'class="card collection-card"' in home


def test_curation_is_for_archivists_only(client, login):
    assert client.get("/curation/").status_code in (302, 401)
    assert client.get("/indicators/").status_code in (302, 401)
    login("contributor")
    assert client.get("/curation/").status_code == 403
    assert client.post("/curation/collections/new", data={"title": "x"}).status_code == 403
    assert client.get("/indicators/").status_code == 403


def test_a_draft_story_cannot_join_a_collection(client, login, make_story):
    draft = make_story("Brouillon", status="submitted")
    login("archivist")
    response = client.post("/curation/collections/new", data={"title": "Essai"})
    edit_url = response.headers["Location"]
    response = client.post(edit_url + "/items", data={"story_id": draft}, follow_redirects=True)
    assert "seules les histoires approuvées ou publiées" in response.text  # French, the default
    assert "Brouillon" not in response.text.split("<h2>")[1]


def test_a_number_no_database_holds_is_refused_with_a_message_not_an_error(client, login):
    login("archivist")
    edit_url = client.post("/curation/collections/new", data={"title": "Essai"}).headers["Location"]
    for number in ("9" * 30, "-3", "²"):
        response = client.post(
            edit_url + "/items", data={"story_id": number}, follow_redirects=True
        )
        assert response.status_code == 200, number
        assert "Tapez le numéro d" in response.text


def test_archivist_records_a_place_of_origin_that_gathers_spellings(client, login, make_story):
    make_story("Le port", places=["Oran"])
    make_story("La gare", places=["oran"])
    login("archivist")
    client.post("/curation/places", data={"name": "Oran", "latitude": "35.6971",
                                          "longitude": "-0.6308"})  # fmt: skip
    client.post("/curation/places", data={"name": "ORAN"})  # same place, not a second one
    client.post("/logout")
    html = client.get("/places/oran").text
    assert "Le port" in html and "La gare" in html
    assert client.get("/places/").text.count('href="/places/oran"') == 1


def test_indicators_count_stories_by_status_language_and_period(client, login, make_story):
    make_story("Un", organisation="Collège Paul Éluard")
    make_story("Deux", language="ar", period="1975")
    make_story("Trois", status="submitted", period=None)
    login("archivist")
    response = client.get("/indicators/")
    assert response.status_code == 200
    html = response.text
    assert check_html(html) == []
    assert "3 histoires au total." in html
    assert "publiée" in html and "envoyée" in html
    assert "arabe (ar)" in html
    assert "années 1970" in html and "Période non précisée" in html
    assert "Collège Paul Éluard" in html
    assert response.headers["Cache-Control"] == "private, no-store"


def test_collection_readings_are_counted_for_the_most_viewed_indicator(client, app, login,
                                                                       make_story):  # fmt: skip
    from webapp.extensions import db
    from webapp.models import Collection, CollectionItem

    story_id = make_story("Au marché")
    with app.app_context():
        for slug, title in (("peu", "Peu lue"), ("souvent", "Souvent lue")):
            collection = Collection(title=title, slug=slug, published=True)
            collection.items = [CollectionItem(story_id=story_id, position=0)]
            db.session.add(collection)
        db.session.commit()
    client.get("/collections/peu")
    for _ in range(3):
        client.get("/collections/souvent")
    login("archivist")
    client.get("/collections/souvent")  # staff readings are not counted
    html = client.get("/indicators/").text
    table = html.split('id="chart-collection_views"')[1].split("</section>")[0]
    assert "Collections les plus consultées" in table
    assert table.index("Souvent lue") < table.index("Peu lue")
    assert "<td>3</td>" in table and "<td>1</td>" in table
