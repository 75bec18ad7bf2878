"""What search engines and feed readers get: Schema.org JSON-LD in each public story page (that
no title can break out of), a sitemap of published pages, and Atom feeds linked from the pages,
read back by a real feed parser."""

from __future__ import annotations

import json
import re

import feedparser
from lxml import etree

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def jsonld_blocks(html: str) -> list[str]:
    return re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)


def test_a_story_page_carries_schema_org_json_ld(client, archive):
    organisation = archive.organisation("Mémoires du Val-de-Marne")
    story_id = archive.story(
        images=1,
        organisation_id=organisation,
        title="Les épices",
        places=["Vitry-sur-Seine"],
        period="1962",
        themes=["work"],
    )
    archive.collection("Marchés", [story_id])
    page = client.get(f"/stories/{story_id}", follow_redirects=True)
    (block,) = jsonld_blocks(page.get_data(as_text=True))
    data = json.loads(block)
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == ["CreativeWork", "ArchiveComponent"]
    assert data["name"] == "Les épices" and data["inLanguage"] == "fr"
    assert data["url"] == page.request.url
    assert data["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert data["publisher"]["name"] == "Mémoires du Val-de-Marne"
    assert data["spatialCoverage"] == [{"@type": "Place", "name": "Vitry-sur-Seine"}]
    assert data["temporalCoverage"] == "1962" and data["keywords"] == ["work"]
    assert data["isPartOf"][0]["name"] == "Marchés"
    assert client.get(data["image"][0]["contentUrl"]).status_code == 200


def test_a_title_holding_script_tags_cannot_break_out_of_the_json_ld(client, archive):
    title = "</script><script>alert('x')</script><!-- & 'quoted'"
    story_id = archive.story(title=title)
    html = client.get(f"/stories/{story_id}", follow_redirects=True).get_data(as_text=True)
    (block,) = jsonld_blocks(html)
    assert "<" not in block and ">" not in block  # nothing in it can close or open a tag
    assert json.loads(block)["name"] == title
    assert "<script>alert" not in html


def test_unpublished_stories_carry_no_json_ld(app, client, archive):
    story_id = archive.story(publish=False)
    from webapp.services.stories import find_story

    with app.app_context():
        token = find_story(story_id).status_token
    html = client.get(f"/stories/{story_id}?t={token}").get_data(as_text=True)
    assert jsonld_blocks(html) == []


def test_the_sitemap_lists_published_stories_collections_and_places(client, archive):
    shown = archive.story(title="Publiée", places=["Vitry-sur-Seine"])
    hidden = archive.story(publish=False, title="Cachée", places=["Oran"])
    withdrawn = archive.story(title="Retirée")
    archive.act("withdraw", withdrawn)
    archive.collection("Marchés", [shown])
    response = client.get("/sitemap.xml")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    root = etree.fromstring(response.data)
    assert root.tag == f"{SITEMAP}urlset"
    locations = [u.findtext(f"{SITEMAP}loc") for u in root.iter(f"{SITEMAP}url")]
    assert any(re.search(rf"/stories/{shown}-", loc) for loc in locations)
    assert not any(re.search(rf"/stories/({hidden}|{withdrawn})\b", loc) for loc in locations)
    assert "http://passages.test/collections/marches" in locations
    assert "http://passages.test/places/vitry-sur-seine" in locations
    assert "http://passages.test/places/oran" not in locations
    for location in locations:
        assert client.get(location).status_code == 200, location


def test_a_large_archive_gets_a_sitemap_index(client, archive, monkeypatch):
    from webapp.interop import sitemap

    stories = [archive.story(title=f"Histoire {n}") for n in range(5)]
    monkeypatch.setattr(sitemap, "MAX_URLS", 2)  # the protocol's 50,000, scaled down
    root = etree.fromstring(client.get("/sitemap.xml").data)
    assert root.tag == f"{SITEMAP}sitemapindex"
    parts = [s.findtext(f"{SITEMAP}loc") for s in root.iter(f"{SITEMAP}sitemap")]
    assert parts[0] == "http://passages.test/sitemaps/pages.xml"
    listed = []
    for part in parts[1:]:
        urls = etree.fromstring(client.get(part).data).iter(f"{SITEMAP}url")
        listed += [u.findtext(f"{SITEMAP}loc") for u in urls]
    assert len(listed) == len(stories) and len(parts) == 4
    assert client.get("/sitemaps/stories-9.xml").status_code == 404


def test_atom_feeds_of_new_stories_and_of_a_collection_are_valid_and_linked(client, archive):
    first = archive.story(title="Première", themes=["work"])
    second = archive.story(title="Seconde")
    hidden = archive.story(publish=False, title="Cachée")
    archive.collection("Marchés", [second])

    home = client.get("/").get_data(as_text=True)
    (feed_link,) = re.findall(r'<link rel="alternate" type="application/atom\+xml"[^>]*>', home)
    assert 'href="http://passages.test/feeds/stories.atom"' in feed_link
    response = client.get("/feeds/stories.atom")
    assert response.mimetype == "application/atom+xml"
    feed = feedparser.parse(response.data)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert [e.title for e in feed.entries] == ["Seconde", "Première"]
    assert "Cachée" not in response.get_data(as_text=True) and hidden
    entry = feed.entries[1]
    assert entry.link.startswith(f"http://passages.test/stories/{first}-")
    assert entry.published_parsed and entry.updated_parsed
    assert [t.term for t in entry.tags] == ["work"]

    page = client.get("/collections/marches").get_data(as_text=True)
    assert 'href="http://passages.test/feeds/collections/marches.atom"' in page
    collection_feed = feedparser.parse(client.get("/feeds/collections/marches.atom").data)
    assert not collection_feed.bozo
    assert [e.title for e in collection_feed.entries] == ["Seconde"]
    assert client.get("/feeds/collections/nowhere.atom").status_code == 404
    etag = response.headers["ETag"]
    assert client.get("/feeds/stories.atom", headers={"If-None-Match": etag}).status_code == 304
