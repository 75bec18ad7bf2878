"""The gazetteer is correct and complete; the search page offers facets, filters and help."""

from __future__ import annotations

from tests.public.htmlcheck import check_html


def test_gazetteer_holds_every_commune_of_the_two_departements_once(ctx):
    from webapp.extensions import db
    from webapp.models import Place
    from webapp.places import gazetteer_rows, place_key

    rows = list(gazetteer_rows())
    assert sum(r.department == "93" for r in rows) == 40  # 39 communes + Pierrefitte (merged 2025)
    assert sum(r.department == "94" for r in rows) == 47
    assert len({r.insee for r in rows}) == len(rows)
    for row in rows:
        assert row.insee.startswith(row.department) and len(row.insee) == 5
        assert 48.6 < row.latitude < 49.1 and 2.2 < row.longitude < 2.7, row.name
    places = db.session.scalars(db.select(Place)).all()
    assert len(places) == len(rows)
    assert all(p.key == place_key(p.name) for p in places)  # migration and code agree


def test_spelling_variants_of_a_place_have_one_key():
    from webapp.places import place_key

    assert (
        place_key("Vitry sur Seine") == place_key("Vitry-sur-Seine") == place_key("VITRY SUR SEINE")
    )
    assert place_key("St-Denis") == place_key("Saint-Denis")
    assert place_key("L'Haÿ-les-Roses") == place_key("L’Hay les Roses")


def test_canonical_names_give_the_gazetteer_spelling_once(ctx):
    from webapp.places import canonical_names

    assert canonical_names(["vitry sur seine", "Vitry-sur-Seine", " Oran ", "st denis"]) == [
        "Vitry-sur-Seine",
        "Oran",
        "Saint-Denis",
    ]


def test_search_page_shows_facets_with_counts_and_combinable_filters(client, make_story):
    make_story("Le marché", places=["Vitry-sur-Seine"], themes=["travail"], period="1962")
    make_story("L'usine", places=["Vitry-sur-Seine"], themes=["travail"], period="1975")
    make_story("La gare", places=["Bobigny"], themes=["voyage"], period="1963", language="pt")
    html = client.get("/search?q=").text
    assert check_html(html) == []
    assert "3 histoires" in html
    assert (
        'href="/search?place=Vitry-sur-Seine">Vitry-sur-Seine</a> <span class="count">(2)' in html
    )
    assert "portugais" in html  # language facet named in the interface language

    combined = client.get("/search?place=Vitry-sur-Seine&decade=1960").text
    assert "1 histoire" in combined and "Le marché" in combined and "L&#39;usine" not in combined
    # Each active filter can be removed on its own; the URL keeps the others.
    assert 'href="/search?decade=1960"' in combined
    assert 'href="/search?place=Vitry-sur-Seine"' in combined
    assert 'aria-current="true"' in combined

    by_period = client.get("/search?sort=period").text
    assert by_period.index("Le marché") < by_period.index("La gare") < by_period.index("usine")


def test_search_without_results_offers_help_and_a_way_out_of_filters(client, make_story):
    make_story("Le marché")
    html = client.get("/search?q=zzzzqqq&theme=travail").text
    assert "Aucune histoire trouvée" in html
    assert "Chercher à nouveau sans les filtres" in html
    assert 'href="/search?q=zzzzqqq"' in html


def test_search_pages_through_results_keeping_query_and_filters(client, make_story):
    for n in range(25):
        make_story(f"Histoire du marché {n}", themes=["travail"])
    html = client.get("/search?q=marché&theme=travail").text
    assert "Page 1 sur 2" in html
    assert 'href="/search?q=march%C3%A9&amp;theme=travail&amp;page=2"' in html
    page2 = client.get("/search?q=marché&theme=travail&page=2").text
    assert page2.count('<li class="result') == 5


def test_search_interface_in_english(client, make_story):
    make_story("Le marché")
    client.get("/language/en")
    html = client.get("/search?q=zzzzqqq").text
    assert "No story found" in html and '<html lang="en"' in html


def test_places_page_draws_a_map_without_tiles_or_script(client, make_story):
    make_story("Au marché", places=["Créteil"])
    html = client.get("/places/").text
    assert check_html(html) == []
    assert '<svg class="place-map"' in html and "<script" not in html
    assert '<a href="/places/creteil"><circle' in html
    assert html.count("<circle") == 87  # every commune, linked when it has stories


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_text_colours_meet_wcag_aa_contrast():
    import re
    from pathlib import Path

    css = (Path(__file__).resolve().parents[2] / "webapp/static/passages.css").read_text()
    colours = dict(re.findall(r"--(\w+): (#[0-9a-fA-F]{6})", css))
    pairs = [
        (colours["ink"], colours["paper"]),  # body text
        (colours["accent"], colours["paper"]),  # links
        (colours["muted"], colours["paper"]),  # meta lines, counts
        (colours["muted"], "#ffffff"),  # meta lines on cards
        ("#ffffff", "#102a43"),  # header and footer
        ("#ffffff", colours["accent"]),  # buttons
        (colours["ink"], "#ffe58a"),  # highlighted search words
        (colours["ink"], "#f3f1ea"),  # citation box
    ]
    for foreground, background in pairs:
        assert _contrast(foreground, background) >= 4.5, (foreground, background)
