"""The demo shows archive documents with their provenance and a response that links to one."""

from __future__ import annotations


def test_demo_loads_documents_and_a_response_once(app, client):
    from webapp.demo import DEMO_DOCUMENTS, DEMO_RESPONSE, load_demo
    from webapp.extensions import db
    from webapp.models import Story

    with app.app_context():
        load_demo()
        load_demo()  # twice changes nothing
        documents = db.session.scalars(db.select(Story).where(Story.kind == "document")).all()
        assert sorted(d.title for d in documents) == sorted(d["title"] for d in DEMO_DOCUMENTS)
        assert all(d.is_public and d.source_reference for d in documents)
        response = db.session.scalar(db.select(Story).where(Story.title == DEMO_RESPONSE["title"]))
        letter = next(d for d in documents if d.source_reference == "2 W 145")
    body = client.get(f"/api/v1/stories/{response.id}").json
    assert [d["id"] for d in body["responds_to"]] == [letter.id]
    assert [r["id"] for r in client.get(f"/api/v1/stories/{letter.id}").json["responses"]] == [
        response.id
    ]
