"""The archivist reviewing a story is told when one of its photos is already in another story."""

from __future__ import annotations

from tests.conftest import make_jpeg, story_metadata, submit_story_via_api


def test_review_page_says_the_photo_is_already_in_another_story(app, client, make_user, api_token):
    contributor = api_token(make_user("contributor"))
    photo = make_jpeg(seed=21)
    first = submit_story_via_api(
        client, contributor, story_metadata(title="Le premier récit"), [("a.jpg", photo)]
    ).json["id"]
    second = submit_story_via_api(
        client, contributor, story_metadata(title="Le second récit"), [("b.jpg", photo)]
    ).json["id"]
    archivist_email = "archives-dup@example.org"
    make_user("archivist", email=archivist_email)
    login = client.post(
        "/login", data={"email": archivist_email, "password": "correct-horse-battery"}
    )
    assert login.status_code in (302, 303)
    html = client.get(f"/moderation/stories/{second}").get_data(as_text=True)
    assert "Le premier récit" in html
    assert f"/moderation/stories/{first}" in html
    alone = submit_story_via_api(
        client, contributor, story_metadata(title="Sans doublon"), [("c.jpg", make_jpeg(seed=22))]
    ).json["id"]
    assert "Le premier récit" not in client.get(f"/moderation/stories/{alone}").get_data(
        as_text=True
    )
