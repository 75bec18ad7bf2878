"""A document's public page, a response's page, search by kind and harvesting (OAI, JSON-LD)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from lxml import html as lxml_html

from tests.interop.test_oai import DC, OAI, identifier, oai_get


def _page(client, story_id: int):
    response = client.get(f"/stories/{story_id}", follow_redirects=True)
    assert response.status_code == 200
    return lxml_html.fromstring(response.data)


def _text(node) -> str:
    return " ".join(node.text_content().split())


def test_document_page_shows_provenance_and_an_archival_citation(client, make_document):
    document_id = make_document()
    page = _page(client, document_id)
    provenance = _text(page.xpath('//section[@class="provenance"]')[0])
    for fact in ("Archives départementales du Val-de-Marne", "2 W 145", "fonds de la préfecture",
                 "Service des étrangers", "~1962"):  # fmt: skip
        assert fact in provenance
    citation = _text(page.xpath('//p[@class="citation archival"]')[0])
    assert citation == (
        "Archives départementales du Val-de-Marne, 2 W 145, fonds de la préfecture"
        " — Service des étrangers, ~1962."
    )


def test_document_page_lists_only_published_responses_newest_first(
    client, make_document, make_story, respond
):
    document_id = make_document()
    now = datetime.now(UTC)
    older = make_story("Ma lecture de la lettre", published_at=now - timedelta(days=3))
    newer = make_story("La lettre et ma famille", published_at=now - timedelta(days=1))
    hidden = make_story("Brouillon sur la lettre", status="submitted")
    withdrawn = make_story("Réponse retirée", status="withdrawn")
    # The service checks the document, not the story's status: every one is linked.
    for story_id in (older, newer, hidden, withdrawn):
        respond(story_id, [document_id])
    page = _page(client, document_id)
    titles = [_text(a) for a in page.xpath('//section[@class="responses"]//li/a')]
    assert titles == ["La lettre et ma famille", "Ma lecture de la lettre"]
    body = client.get(f"/api/v1/stories/{document_id}").json
    assert [r["id"] for r in body["responses"]] == [newer, older]
    assert "Brouillon" not in client.get(f"/stories/{document_id}", follow_redirects=True).text


def test_response_page_links_to_the_document_it_answers(client, make_document, make_story, respond):
    document_id = make_document()
    story_id = make_story("Ce que la lettre m'a appris")
    respond(story_id, [document_id])
    page = _page(client, story_id)
    links = page.xpath('//p[@class="responds-to"]/a')
    assert [_text(a) for a in links] == ["Lettre de demande de logement"]
    assert re.search(rf"/stories/{document_id}-", links[0].get("href"))
    assert not page.xpath('//section[@class="provenance"]')


def test_search_has_a_kind_facet_on_the_page_and_the_api(client, make_document, make_story):
    make_document("Affiche du bal de Champigny")
    make_document("Lettre au préfet")
    make_story("Le bal de Champigny")
    facets = client.get("/api/v1/search").json["facets"]
    assert {f["value"]: f["count"] for f in facets["kind"]} == {"document": 2, "story": 1}
    only = client.get("/api/v1/search?kind=document").json
    assert only["total"] == 2
    assert client.get("/api/v1/stories?kind=document").json["total"] == 2
    page = client.get("/search?kind=document")
    assert page.status_code == 200
    tree = lxml_html.fromstring(page.data)
    assert len(tree.xpath('//ol[@class="results"]/li')) == 2
    # French is the default locale: the facet and its values are translated.
    facet_names = [_text(h) for h in tree.xpath('//aside[@class="facets"]//h2')]
    assert "Type" in facet_names
    assert "Documents d'archives (2)" in _text(tree.xpath('//aside[@class="facets"]')[0])


def test_document_is_harvested_with_its_source_and_type(client, make_document, make_story, respond):
    document_id = make_document()
    story_id = make_story("Ce que la lettre m'a appris")
    respond(story_id, [document_id])
    root = oai_get(
        client, f"verb=GetRecord&metadataPrefix=oai_dc&identifier={identifier(document_id)}"
    )
    dc = root.find(f"{OAI}GetRecord/{OAI}record/{OAI}metadata")[0]
    assert [e.text for e in dc.iter(f"{DC}source")] == [
        "Archives départementales du Val-de-Marne, 2 W 145, fonds de la préfecture"
        " — Service des étrangers, ~1962"
    ]
    assert "archival document" in [e.text for e in dc.iter(f"{DC}type")]
    assert [e.text for e in dc.iter(f"{DC}creator")] == ["Service des étrangers"]
    root = oai_get(
        client, f"verb=GetRecord&metadataPrefix=oai_dc&identifier={identifier(story_id)}"
    )
    dc = root.find(f"{OAI}GetRecord/{OAI}record/{OAI}metadata")[0]
    relations = [e.text for e in dc.iter(f"{DC}relation")]
    assert any(f"/stories/{document_id}-" in r for r in relations)
    assert not list(dc.iter(f"{DC}source"))


def test_document_json_ld_names_its_holding_archive(client, make_document):
    page = _page(client, make_document())
    data = json.loads(page.xpath('//script[@type="application/ld+json"]')[0].text)
    assert "ArchiveComponent" in data["@type"]
    assert data["holdingArchive"]["name"] == "Archives départementales du Val-de-Marne"
    assert data["identifier"] == "2 W 145"


def test_document_manifest_names_where_the_original_is_kept(client, make_document):
    document_id = make_document(media=1)
    manifest = client.get(f"/iiif/stories/{document_id}/manifest.json").json
    metadata = {
        entry["label"]["en"][0]: next(iter(entry["value"].values()))[0]
        for entry in manifest["metadata"]
    }
    assert metadata["Holding institution"] == "Archives départementales du Val-de-Marne"
    assert metadata["Call number"] == "2 W 145"
    listing = client.get("/api/v1/stories?kind=document").json
    assert [(s["id"], s["kind"]) for s in listing["results"]] == [(document_id, "document")]
