"""The issue's "done when": home → collection → story → more from the same place and decade,
then a search in each interface language — following only links found on the pages."""

from __future__ import annotations

import re


def _link(html: str, text: str) -> str:
    match = re.search(r'<a href="([^"]+)"[^>]*>\s*' + re.escape(text), html)
    assert match, f"no link {text!r}"
    return match.group(1).replace("&amp;", "&")


def test_visitor_walks_from_home_to_a_collection_a_story_and_its_neighbours(
    client, app, make_story
):
    from webapp.extensions import db
    from webapp.models import Collection, CollectionItem

    market = make_story("Le marché de Vitry", media=1, places=["Vitry-sur-Seine"], period="1962")
    make_story("La gare de Vitry", places=["Vitry sur Seine"], period="1980")
    make_story("Le bal de 1965", places=["Créteil"], period="1965")
    with app.app_context():
        collection = Collection(
            title="Marchés et commerces", slug="marches", published=True, featured=True
        )
        collection.items = [CollectionItem(story_id=market, position=0)]
        db.session.add(collection)
        db.session.commit()

    home = client.get("/").text
    collection_page = client.get(_link(home, "Marchés et commerces")).text
    story_page = client.get(_link(collection_page, "Le marché de Vitry")).text
    assert "Citer cette histoire" in story_page

    same_place = client.get(_link(story_page, "D'autres histoires de Vitry-sur-Seine")).text
    assert "La gare de Vitry" in same_place and "Le bal de 1965" not in same_place
    same_decade = client.get(_link(story_page, "D'autres histoires des années 1960")).text
    assert "Le bal de 1965" in same_decade and "La gare de Vitry" not in same_decade

    results = client.get("/search?q=gare").text
    assert "La gare de Vitry" in results and "1 histoire" in results
    english = client.get(_link(results, "English"), follow_redirects=True).text
    assert '<html lang="en"' in english and "1 story" in english and "La gare de Vitry" in english
