"""The archivist's form for a new archive document, and correcting its provenance on the review
page."""

from __future__ import annotations

import io
from html import unescape

from tests.conftest import make_jpeg
from tests.documents.conftest import SOURCE


def _form(**overrides):
    data = {
        "title": "Affiche du bal de l'Amicale, Champigny",
        "body": "Affiche imprimée annonçant un bal.",
        "language": "fr",
        "period": "~1965",
        "places": "Champigny-sur-Marne",
        "themes": "fête",
        "licence": "CC-BY-4.0",
        "source_institution": SOURCE["institution"],
        "source_reference": "12 Fi 3",
        "source_fonds": "",
        "source_producer": "Amicale des Algériens",
        "rights": "yes",
    }
    data.update(overrides)
    return data


def test_archivist_saves_a_document_with_its_scan_then_finds_it_for_review(app, client, login):
    login("archivist")
    assert "Nouveau document d'archives" in unescape(client.get("/curation/").text)
    page = client.get("/curation/documents/new")
    assert page.status_code == 200 and "Cote" in page.text
    data = _form(
        images=[(io.BytesIO(make_jpeg(seed=3)), "affiche.jpg")], alt_texts="L'affiche du bal"
    )
    response = client.post("/curation/documents/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 303, response.text
    review_page = unescape(client.get(response.headers["Location"]).text)
    assert "Document d'archives" in review_page and "12 Fi 3" in review_page
    from webapp.extensions import db
    from webapp.models import Story

    with app.app_context():
        document = db.session.scalar(db.select(Story))
        assert document.kind == "document" and document.source_reference == "12 Fi 3"
        assert document.source_fonds is None and len(document.media) == 1


def test_document_form_says_what_is_missing_and_keeps_the_fields(client, login):
    login("archivist")
    response = client.post("/curation/documents/new", data=_form(source_reference=""))
    assert response.status_code == 422
    assert "Cote : obligatoire" in unescape(response.text)  # the field, in words
    assert "Amicale des Algériens" in unescape(response.text)  # the fields are kept


def test_only_archivists_reach_the_document_form(client, login):
    login("teacher")
    assert client.get("/curation/documents/new").status_code == 403
    assert client.post("/curation/documents/new", data=_form()).status_code == 403


def test_archivist_corrects_the_provenance_on_the_review_page(client, login, published_document):
    document_id = published_document()
    login("archivist")
    form = client.get(f"/moderation/stories/{document_id}").text
    assert 'name="source_reference"' in form and "2 W 145" in form
    response = client.post(
        f"/moderation/stories/{document_id}/metadata",
        data={
            "title": "Lettre de demande de logement",
            "source_institution": SOURCE["institution"],
            "source_reference": "2 W 146",
            "source_fonds": "",
            "source_producer": "",
        },
    )
    assert response.status_code == 303
    body = client.get(f"/api/v1/stories/{document_id}").json
    assert body["source"] == {"institution": SOURCE["institution"], "reference": "2 W 146"}
