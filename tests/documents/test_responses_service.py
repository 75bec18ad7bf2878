"""``documents.link_responses``: the one way a story records the documents it answers (class
projects call it too)."""

from __future__ import annotations

import pytest

from tests.conftest import in_action, story_metadata


def test_link_responses_replaces_the_links_and_is_idempotent(
    app, contributor_token, submit_via_api, published_document
):
    from webapp.errors import ValidationFailed
    from webapp.services import documents, stories

    first, second = published_document(), published_document(title="Affiche de 1968")
    story_id = submit_via_api(contributor_token, story_metadata()).json["id"]
    with app.app_context():
        in_action(documents.link_responses, story_id, [first, second])
        in_action(documents.link_responses, story_id, [first, second])
        story = stories.find_story(story_id)
        assert [d.id for d in documents.responded_documents(story)] == [first, second]
        in_action(documents.link_responses, story_id, [second])
        assert [d.id for d in documents.responded_documents(story)] == [second]
        with pytest.raises(ValidationFailed) as refused:
            in_action(documents.link_responses, story_id, [story_id])
        assert refused.value.field == "responds_to"
        # The refused call changed nothing.
        assert [d.id for d in documents.responded_documents(story)] == [second]


def test_erasing_a_response_or_a_document_drops_the_links(
    app, client, contributor_token, submit_via_api, published_document, publish, make_user
):
    from webapp.extensions import db
    from webapp.models import StoryResponse, User
    from webapp.services import erasure

    document_id = published_document()
    story_id = submit_via_api(contributor_token, story_metadata(responds_to=[document_id])).json[
        "id"
    ]
    publish(story_id)
    archivist_id = make_user("archivist")
    with app.app_context():
        archivist = db.session.get(User, archivist_id)
        in_action(erasure.erase_story, story_id, archivist)
        assert db.session.scalar(db.select(db.func.count()).select_from(StoryResponse)) == 0
    assert client.get(f"/api/v1/stories/{document_id}").json["responses"] == []
