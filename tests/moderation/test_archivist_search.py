"""Archivists find submissions by their words in the moderation queue, whatever their status;
the public never does."""

from __future__ import annotations

from tests.conftest import story_metadata


def test_archivist_finds_an_unpublished_story_by_a_word_of_its_body(
    app, client, make_user, api_token
):
    from tests.conftest import submit_story_via_api
    from webapp.extensions import db
    from webapp.models import Story
    from webapp.services import backends, indexing

    token = api_token(make_user("contributor"))
    wanted = submit_story_via_api(
        client, token, story_metadata(title="Le hammam", body="Le hammam de la rue Danton.")
    ).json["id"]
    other = submit_story_via_api(
        client, token, story_metadata(title="La gare", body="Le train de nuit.")
    ).json["id"]
    with app.app_context():  # what the search worker does for each story.submitted event
        for story_id in (wanted, other):
            backends.search_index().upsert(indexing.document_for(db.session.get(Story, story_id)))
    make_user("archivist", email="arch-search@example.org")
    client.post(
        "/login", data={"email": "arch-search@example.org", "password": "correct-horse-battery"}
    )
    html = client.get("/moderation/?q=hammam").get_data(as_text=True)
    assert f"/moderation/stories/{wanted}" in html
    assert f"/moderation/stories/{other}" not in html
    assert app.test_client().get("/api/v1/search?q=hammam").json["total"] == 0
