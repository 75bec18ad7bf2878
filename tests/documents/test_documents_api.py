"""Archive documents and responses through /api/v1/stories: what integrations rely on."""

from __future__ import annotations

from tests.conftest import story_metadata
from tests.documents.conftest import SOURCE, document_metadata


def test_archivist_document_round_trips_kind_source_and_citation(
    client, archivist_token, submit_via_api, publish
):
    response = submit_via_api(archivist_token, document_metadata())
    assert response.status_code == 202, response.json
    assert response.json["kind"] == "document"
    assert response.json["source"] == SOURCE
    publish(response.json["id"])
    body = client.get(f"/api/v1/stories/{response.json['id']}").json
    assert body["kind"] == "document" and body["source"] == SOURCE
    assert body["citation"] == (
        "Archives départementales du Val-de-Marne, 2 W 145, fonds de la préfecture"
        " — Service des étrangers, ~1962"
    )
    assert body["responses"] == []


def test_a_story_is_kind_story_by_default(contributor_token, submit_via_api):
    body = submit_via_api(contributor_token, story_metadata()).json
    assert body["kind"] == "story" and body["responds_to"] == []
    assert "source" not in body


def test_only_archivists_publish_documents(contributor_token, submit_via_api, app):
    response = submit_via_api(contributor_token, document_metadata())
    assert response.status_code == 403
    assert "archivist" in response.json["error"]["message"]


def test_document_without_call_number_is_refused_by_field(archivist_token, submit_via_api):
    source = {"institution": "Archives départementales du Val-de-Marne"}
    response = submit_via_api(archivist_token, document_metadata(source=source))
    assert response.status_code == 422
    assert response.json["error"]["field"] == "source.reference"


def test_document_without_source_is_refused(archivist_token, submit_via_api):
    metadata = document_metadata()
    del metadata["source"]
    response = submit_via_api(archivist_token, metadata)
    assert response.status_code == 422 and response.json["error"]["field"] == "source"


def test_source_on_a_story_is_refused(contributor_token, submit_via_api):
    response = submit_via_api(contributor_token, story_metadata(source=dict(SOURCE)))
    assert response.status_code == 422 and response.json["error"]["field"] == "source"


def test_response_lists_its_document_and_the_document_lists_the_published_response(
    client, contributor_token, submit_via_api, publish, published_document
):
    document_id = published_document()
    response = submit_via_api(contributor_token, story_metadata(responds_to=[document_id]))
    assert response.status_code == 202, response.json
    story_id = response.json["id"]
    assert [d["id"] for d in response.json["responds_to"]] == [document_id]
    # Not published yet: the document does not list it.
    assert client.get(f"/api/v1/stories/{document_id}").json["responses"] == []
    publish(story_id)
    document = client.get(f"/api/v1/stories/{document_id}").json
    assert [(r["id"], r["title"]) for r in document["responses"]] == [
        (story_id, "Le marché de Vitry")
    ]
    assert f"/stories/{story_id}-" in document["responses"][0]["url"]
    story = client.get(f"/api/v1/stories/{story_id}").json
    assert [(d["id"], d["title"]) for d in story["responds_to"]] == [
        (document_id, "Lettre de demande de logement")
    ]
    assert f"/stories/{document_id}-lettre" in story["responds_to"][0]["url"]


def test_responds_to_names_only_published_documents(
    archivist_token, contributor_token, submit_via_api, published_document, publish
):
    plain = submit_via_api(contributor_token, story_metadata()).json["id"]
    publish(plain)
    unpublished = submit_via_api(archivist_token, document_metadata()).json["id"]
    for wrong in ([plain], [unpublished], [999999], [published_document(), 999998]):
        response = submit_via_api(contributor_token, story_metadata(responds_to=wrong))
        assert response.status_code == 422, wrong
        assert response.json["error"]["field"] == "responds_to"
        assert "not a published archive document" in response.json["error"]["message"]
    for malformed in (["7"], [0], "7", [True]):
        response = submit_via_api(contributor_token, story_metadata(responds_to=malformed))
        assert response.status_code == 422, malformed


def test_refused_response_stores_nothing(app, contributor_token, submit_via_api):
    from webapp.extensions import db
    from webapp.models import Story

    response = submit_via_api(contributor_token, story_metadata(responds_to=[424242]))
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Story)) == 0


def test_archivist_corrects_a_documents_provenance_through_the_api(
    client, archivist_token, published_document
):
    document_id = published_document()
    headers = {"Authorization": f"Bearer {archivist_token}"}
    response = client.patch(
        f"/api/v1/stories/{document_id}",
        json={"source": {"institution": "Archives nationales", "reference": "F/7/15000"}},
        headers=headers,
    )
    assert response.status_code == 200, response.json
    assert response.json["source"] == {
        "institution": "Archives nationales",
        "reference": "F/7/15000",
    }
    assert response.json["citation"] == "Archives nationales, F/7/15000 — ~1962"
    refused = client.patch(
        f"/api/v1/stories/{document_id}",
        json={"source": {"institution": "Archives nationales"}},
        headers=headers,
    )
    assert refused.status_code == 422 and refused.json["error"]["field"] == "source.reference"
    unknown = client.patch(
        f"/api/v1/stories/{document_id}", json={"kind": "story"}, headers=headers
    )
    assert unknown.status_code == 422 and unknown.json["error"]["field"] == "kind"
    # Nothing of the refused changes was kept.
    assert client.get(f"/api/v1/stories/{document_id}").json["source"]["reference"] == "F/7/15000"


def test_a_contributor_cannot_change_a_documents_provenance(
    client, contributor_token, published_document
):
    document_id = published_document()
    response = client.patch(
        f"/api/v1/stories/{document_id}",
        json={"source": {"institution": "X", "reference": "Y"}},
        headers={"Authorization": f"Bearer {contributor_token}"},
    )
    assert response.status_code in (403, 404)
    assert client.get(f"/api/v1/stories/{document_id}").json["source"] == SOURCE


def test_author_cannot_change_what_a_handed_in_story_responds_to(
    client, contributor_token, submit_via_api, published_document
):
    document_id = published_document()
    story_id = submit_via_api(contributor_token, story_metadata()).json["id"]
    headers = {"Authorization": f"Bearer {contributor_token}"}
    # Handed in (submitted): no longer with the author.
    response = client.patch(
        f"/api/v1/stories/{story_id}", json={"responds_to": [document_id]}, headers=headers
    )
    assert response.status_code == 403
    wrong = client.patch(f"/api/v1/stories/{story_id}", json={"title": 7}, headers=headers)
    assert wrong.status_code == 422 and wrong.json["error"]["field"] == "title"


def test_source_on_a_story_cannot_be_added_by_edit(client, archivist_token, contributor_token,
                                                   submit_via_api):  # fmt: skip
    story_id = submit_via_api(contributor_token, story_metadata()).json["id"]
    response = client.patch(
        f"/api/v1/stories/{story_id}",
        json={"source": dict(SOURCE)},
        headers={"Authorization": f"Bearer {archivist_token}"},
    )
    assert response.status_code == 422 and response.json["error"]["field"] == "source"
