"""The public pages render real data, in French by default, and never show unpublished stories."""

from __future__ import annotations

import re

import pytest

from tests.public.htmlcheck import check_html


def test_home_lists_recent_published_stories_in_french(client, make_story):
    make_story("Le marché de Vitry")
    make_story("Brouillon secret", status="submitted")
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    assert '<html lang="fr"' in html
    assert "Histoires récentes" in html
    assert "Le marché de Vitry" in html
    assert "Brouillon secret" not in html
    assert "années 1960" in html  # browse by decade, from the real index's facets
    assert check_html(html) == []


def test_story_page_has_gallery_facts_citation_and_share_previews(client, make_story):
    story_id = make_story(
        "Le marché de Vitry",
        media=2,
        organisation="Association Mémoires du 94",
        extra={"credit": "Famille Benali"},
        themes=["travail", "marché"],
    )
    response = client.get(f"/stories/{story_id}-le-marche-de-vitry")
    assert response.status_code == 200
    html = response.text
    assert check_html(html) == []
    assert 'srcset="' in html and " 320w" in html and " 1600w" in html
    assert 'loading="lazy"' in html
    assert 'alt="Photo 1 de Le marché de Vitry"' in html
    assert '<meta property="og:title" content="Le marché de Vitry">' in html
    assert '<meta name="twitter:card" content="summary_large_image">' in html
    assert f'content="http://passages.test/stories/{story_id}-le-marche-de-vitry"' in html
    assert "Citer cette histoire" in html and "Famille Benali" in html
    assert 'href="/places/vitry-sur-seine"' in html
    assert 'href="/search?decade=1960"' in html
    assert "CC-BY-4.0" in html and 'rel="license"' in html
    assert "Association Mémoires du 94" in html


def test_old_story_urls_redirect_permanently_to_the_readable_one(client, make_story):
    story_id = make_story("Le marché de Vitry")
    for old in (f"/stories/{story_id}", f"/stories/{story_id}-ancien-titre"):
        response = client.get(old)
        assert response.status_code == 301
        assert response.headers["Location"].endswith(f"/stories/{story_id}-le-marche-de-vitry")


def test_right_to_left_story_is_marked_with_its_language_and_direction(client, make_story):
    story_id = make_story("سوق فيتري", body="كانت جدتي تبيع التوابل في السوق.", language="ar")
    response = client.get(f"/stories/{story_id}", follow_redirects=True)
    assert response.status_code == 200
    html = response.text
    assert '<h1 lang="ar" dir="rtl">سوق فيتري</h1>' in html
    assert '<div class="body" lang="ar" dir="rtl">' in html
    assert '<html lang="fr" dir="ltr">' in html  # the interface stays French
    assert "arabe" in html  # the language is named in the interface language


@pytest.mark.parametrize("status", ["submitted", "in_review", "approved", "rejected", "withdrawn"])
def test_unpublished_and_withdrawn_stories_never_appear_in_public_pages(
    client, make_story, app, status
):
    from webapp.extensions import db
    from webapp.models import Collection, CollectionItem

    visible = make_story("Histoire visible", organisation="Collège Henri Wallon")
    hidden = make_story("Histoire cachée", status=status, organisation="Collège Henri Wallon")
    with app.app_context():
        collection = Collection(title="Marchés", slug="marches", published=True, featured=True)
        collection.items = [
            CollectionItem(story_id=hidden, position=0),
            CollectionItem(story_id=visible, position=1),
        ]
        db.session.add(collection)
        db.session.commit()
        from webapp.models import Story

        org_id = db.session.get(Story, visible).organisation_id
    assert client.get(f"/stories/{hidden}").status_code == 404
    assert client.get(f"/stories/{hidden}-histoire-cachee").status_code == 404
    for url in (
        "/",
        "/search",
        "/search?q=histoire",
        "/collections/",
        "/collections/marches",
        f"/organisations/{org_id}-college-henri-wallon",
        "/places/vitry-sur-seine",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        if url != "/collections/":  # that page lists collections, not stories
            assert "Histoire visible" in response.text, url
        assert "Histoire cachée" not in response.text, url


def test_public_pages_answer_304_when_unchanged(client, make_story):
    story_id = make_story("Le marché de Vitry")
    url = f"/stories/{story_id}-le-marche-de-vitry"
    first = client.get(url)
    assert first.headers["ETag"]
    assert first.headers["Last-Modified"]
    assert "public" in first.headers["Cache-Control"]
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    # Another interface language is another representation.
    client.get("/language/en")
    assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 200


def test_story_page_is_light_before_images(client, make_story):
    story_id = make_story("Le marché de Vitry", media=20, body="Un paragraphe.\n\n" * 50)
    html = client.get(f"/stories/{story_id}-le-marche-de-vitry").text
    css = client.get("/static/passages.css").data
    viewer = client.get("/static/image-viewer.js").data
    assert len(html.encode()) + len(css) + len(viewer) < 200 * 1024
    # Nothing to download or run before reading (the JSON-LD data block is never run): the one
    # script, the full-screen viewer, is our own and deferred until the page is read.
    scripts = re.findall(r'<script(?![^>]*type="application/ld\+json")[^>]*>', html)
    assert scripts == ['<script src="/static/image-viewer.js" defer>']
    # No third-party request: every image and stylesheet comes from the site itself.
    assert not re.search(r'src="https?://(?!passages\.test)', html)
    assert not re.search(r'<link rel="stylesheet" href="https?://', html)


def test_place_names_written_differently_meet_on_one_place_page(client, make_story):
    make_story("Au marché", places=["Vitry-sur-Seine"])
    make_story("À la gare", places=["Vitry sur Seine"])
    make_story("Au port", places=["vitry  sur seine", "Oran"])
    html = client.get("/places/vitry-sur-seine").text
    assert check_html(html) == []
    assert "94081" in html
    for title in ("Au marché", "À la gare", "Au port"):
        assert title in html
    listing = client.get("/places/").text
    assert "3 histoires" in listing and "Val-de-Marne" in listing


def test_organisation_page_lists_its_published_stories_with_pagination(client, make_story, app):
    for n in range(14):
        make_story(f"Histoire {n:02d}", organisation="Association Génériques")
    from webapp.extensions import db
    from webapp.models import Organisation

    with app.app_context():
        org_id = db.session.scalar(db.select(Organisation.id))
    response = client.get(f"/organisations/{org_id}")
    assert response.status_code == 301
    page1 = client.get(response.headers["Location"]).text
    assert "14 histoires publiées" in page1
    assert "Page 1 sur 2" in page1 and 'rel="next"' in page1
    page2 = client.get(response.headers["Location"] + "?page=2").text
    assert page2.count('class="card"') == 2


def test_language_switch_is_remembered_in_a_cookie(client, make_story):
    make_story("Le marché de Vitry")
    response = client.get("/language/en?next=/collections/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/collections/")
    assert "lang=en" in response.headers["Set-Cookie"]
    html = client.get("/").text
    assert '<html lang="en"' in html
    assert "Recent stories" in html and "1960s" in html
    assert client.get("/language/fr").status_code == 302
    assert "Histoires récentes" in client.get("/").text


def test_dates_follow_the_interface_language(client, make_story):
    from datetime import UTC, datetime

    story_id = make_story("Le marché", published_at=datetime(2026, 3, 5, 12, tzinfo=UTC))
    url = f"/stories/{story_id}-le-marche"
    assert "5 mars 2026" in client.get(url).text
    client.get("/language/en")
    assert "March 5, 2026" in client.get(url).text


def test_language_switch_refuses_unknown_languages_and_foreign_redirects(client):
    assert client.get("/language/xx").status_code == 404
    response = client.get("/language/en?next=//evil.example/")
    assert response.headers["Location"].endswith("/")
    assert "evil" not in response.headers["Location"]


PUBLIC_SOURCES = [
    "webapp/blueprints/public.py",
    "webapp/blueprints/curation.py",
    "webapp/templates/base.html",
    "webapp/templates/home.html",
    "webapp/templates/story.html",
    "webapp/templates/search.html",
    "webapp/templates/error.html",
    "webapp/templates/_story_card.html",
    "webapp/templates/_media_figure.html",
    "webapp/templates/public/*.html",
    "webapp/templates/curation/*.html",
]


def test_french_catalog_translates_every_public_interface_string():
    """Strings are extracted live from the public pages' sources, so a new one cannot slip by."""
    from pathlib import Path

    from babel.messages.extract import extract_from_file
    from babel.messages.mofile import read_mo

    repo = Path(__file__).resolve().parents[2]
    mo = read_mo((repo / "webapp/translations/fr/LC_MESSAGES/messages.mo").open("rb"))
    translated = {m.id if isinstance(m.id, str) else m.id[0] for m in mo if m.id and m.string}
    missing = []
    for pattern in PUBLIC_SOURCES:
        for path in sorted(repo.glob(pattern)):
            method = "python" if path.suffix == ".py" else "jinja2"
            for _line, message, _comments, _context in extract_from_file(method, str(path)):
                msgid = message if isinstance(message, str) else message[0]
                if msgid not in translated:
                    missing.append(f"{path.name}: {msgid}")
    assert missing == []


def test_status_link_holder_sees_an_unpublished_story_privately(client, make_story, app):
    from webapp.extensions import db
    from webapp.models import Story

    story_id = make_story("Pas encore publiée", status="in_review", media=1)
    with app.app_context():
        token = db.session.get(Story, story_id).status_token
    response = client.get(f"/stories/{story_id}?t={token}")
    assert response.status_code == 200  # no redirect that would drop the token
    assert response.headers["Cache-Control"] == "private, no-store"
    html = response.text
    assert '<meta name="robots" content="noindex">' in html
    assert "og:title" not in html and "Citer cette histoire" not in html
    assert f"t={token}" in html  # its images are fetched with the same token
    assert client.get(f"/stories/{story_id}?t=wrong").status_code == 404


def test_citation_shows_an_arabic_address_readably(client, make_story):
    story_id = make_story("حكاية جدي في المصنع", language="ar")
    page = client.get(f"/stories/{story_id}", follow_redirects=True)
    html = page.get_data(as_text=True)
    citation = html.split('class="citation"', 1)[1].split("</p>", 1)[0]
    from webapp.slugs import slugify

    assert f"/stories/{story_id}-{slugify('حكاية جدي في المصنع')}" in citation
    assert "جدي-في-المصنع" in citation and "%D8" not in citation
