"""Pictures where people would rather look than read: search results and lists show each
story's thumbnail, kind, place and period; the indicators are SVG bar charts with a table beside
each and a CSV download, for archivists only."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

from tests.public.htmlcheck import check_html
from webapp.charts import horizontal_bars, short_label


def test_search_results_show_thumbnail_kind_place_and_period(client, make_story):
    make_story("Le marché de Vitry", media=2, places=["Vitry-sur-Seine"], period="1962")
    make_story("Le marché sans photo", media=0, places=["Ivry-sur-Seine"], period="1970s")
    html = client.get("/search?q=march%C3%A9").text
    assert check_html(html) == []
    results = re.findall(r'<li class="result[^"]*">.*?</li>', html, re.S)
    assert len(results) == 2
    pictured = next(r for r in results if "Le marché de Vitry" in r)
    bare = next(r for r in results if "Le marché sans photo" in r)
    image = re.search(r"<img [^>]+>", pictured).group(0)
    assert 'alt="Photo 1 de Le marché de Vitry"' in image  # the first image's description
    assert 'loading="lazy"' in image and 'width="320"' in image and 'height="240"' in image
    assert "/thumb" in image
    assert "<img" not in bare
    assert '<span class="kind">Histoire</span>' in pictured and "Vitry-sur-Seine · 1962" in pictured
    assert "Ivry-sur-Seine · 1970–1979" in bare


def test_search_never_shows_a_picture_of_a_story_that_is_not_public(client, app, make_story):
    from webapp.extensions import db
    from webapp.models import Story

    story_id = make_story("Le marché retiré", media=1)
    with app.app_context():  # withdrawn, but the index has not caught up yet
        db.session.get(Story, story_id).status = "withdrawn"
        db.session.commit()
    html = client.get("/search?q=retir%C3%A9").text
    assert "/media/" not in html


def test_story_cards_in_lists_show_kind_and_a_lazy_described_thumbnail(client, make_story):
    make_story("Le marché de Vitry", media=1, organisation="Mémoires du 94")
    html = client.get("/places/vitry-sur-seine").text
    card = re.search(r'<article class="card">.*?</article>', html, re.S).group(0)
    assert 'alt="Photo 1 de Le marché de Vitry"' in card and 'loading="lazy"' in card
    assert 'width="320" height="240"' in card
    assert '<span class="kind">Histoire</span>' in card


def test_bar_layout_scales_to_the_largest_and_survives_empty_and_zero_series():
    chart = horizontal_bars([("2026-01", 2), ("2026-02", 8), ("2026-03", 4)], width=640)
    widths = [bar.width for bar in chart.bars]
    assert widths[1] == max(widths) and widths[0] == widths[1] / 4 and widths[2] == widths[1] / 2
    assert [bar.label for bar in chart.bars] == ["2026-01", "2026-02", "2026-03"]  # order kept
    assert all(bar.x + bar.width <= chart.width for bar in chart.bars)
    assert chart.total == 14 and chart.largest.label == "2026-02"
    assert horizontal_bars([]).bars == [] and horizontal_bars([]).largest is None
    assert [b.width for b in horizontal_bars([("a", 0), ("b", 0)]).bars] == [0.0, 0.0]
    assert short_label("Association des Mémoires du Val-de-Marne et d'ailleurs").endswith("…")


def _svg(html: str, key: str) -> str:
    section = html.split(f'id="chart-{key}"')[1].split("</section>")[0]
    return re.search(r"<svg.*?</svg>", section, re.S).group(0)


def test_indicators_page_draws_each_chart_as_accessible_svg_beside_its_table(
    client, app, login, make_story
):
    from webapp.extensions import db
    from webapp.models import Story

    ids = [
        make_story("Un", organisation="Collège Paul Éluard", places=["Vitry-sur-Seine", "Oran"]),
        make_story("Deux", language="ar", places=["Oran"]),
        make_story("Trois", language="ar", places=["Oran", "Oran"]),
        make_story("Quatre", status="submitted"),
    ]
    with app.app_context():
        for story_id, month in zip(ids[:3], (1, 3, 3), strict=True):
            db.session.get(Story, story_id).published_at = datetime(2026, month, 5, tzinfo=UTC)
        db.session.commit()
    login("archivist")
    response = client.get("/indicators/")
    html = response.text
    assert response.status_code == 200 and check_html(html) == []
    assert "<title>Indicateurs — Passages</title>" in html  # no table inside the title any more
    for key in ("per_month", "by_language", "by_place", "by_organisation", "by_status"):
        svg = _svg(html, key)
        assert (
            'role="img"' in svg and f'aria-labelledby="chart-{key}-title chart-{key}-desc"' in svg
        )
        assert re.search(rf'<title id="chart-{key}-title">[^<]+</title>', svg)
        section = html.split(f'id="chart-{key}"')[1].split("</section>")[0]
        assert "<table" in section and f'href="/indicators/{key}.csv"' in section
    months = _svg(html, "per_month")
    assert months.index(">2026-01<") < months.index(">2026-03<")
    bars = re.findall(r'<rect class="bar" x="[\d.]+" y="[\d.]+" width="([\d.]+)"', months)
    assert len(bars) == 2 and float(bars[1]) == 2 * float(bars[0])  # 1 in January, 2 in March
    places = _svg(html, "by_place")
    assert places.index(">Oran<") < places.index(">Vitry-sur-Seine<")  # 3 stories before 1
    assert "arabe (ar)" in _svg(html, "by_language")
    assert "<td>3</td>" in html.split('id="chart-by_place"')[1].split("</table>")[0]


def test_each_chart_downloads_as_csv_with_the_table_figures(client, login, make_story):
    make_story("Un", organisation='=HYPERLINK("http://x")', places=["Oran"])
    make_story("Deux", places=["Oran", "Tlemcen"])
    login("archivist")
    response = client.get("/indicators/by_place.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "private, no-store"
    text = response.data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["Lieu", "Histoires"], ["Oran", "2"], ["Tlemcen", "1"]]
    organisations = client.get("/indicators/by_organisation.csv").data.decode("utf-8-sig")
    assert "'=HYPERLINK" in organisations  # a spreadsheet shows it, never runs it
    assert client.get("/indicators/nothing.csv").status_code == 404


def test_indicator_csv_is_for_archivists_only(client, login):
    assert client.get("/indicators/by_place.csv").status_code in (302, 401)
    login("teacher")
    assert client.get("/indicators/by_place.csv").status_code == 403
