"""Numbers out of range, digits that are not ASCII and status tokens that are not ASCII: each is
"no such record" (404, 400 or ignored), never a 500 — a 500 for an unpublished id alone would tell
a hidden story from a missing one. Found by probing a running site."""

from __future__ import annotations

import base64

import pytest

from tests.security.conftest import login
from tests.security.test_probing_ids import _shape, _stories_in_every_hidden_state

HUGE = "99999999999999999999999"  # past SQLite's and PostgreSQL's 64-bit integers


def test_record_ids_parse_only_what_a_database_can_hold():
    from webapp.identifiers import MAX_ID, parse_id

    assert parse_id("42") == 42
    assert parse_id(" 7 ") == 7
    assert parse_id(42) == 42
    assert parse_id(str(MAX_ID)) == MAX_ID
    for refused in ("²", "٣", HUGE, str(MAX_ID + 1), "0", "-3", "4.0", "", "x", True, None, 1.0):
        assert parse_id(refused) is None, refused


def test_a_non_ascii_status_token_answers_like_an_unknown_story(app, world, new_story, user):
    ids = _stories_in_every_hidden_state(app, world, new_story, user)
    client = app.test_client()
    for path in (
        "/stories/{}?t=%C3%A9",
        "/api/v1/stories/{}?t=%C3%A9",
        "/stories/{}?t=%F0%9F%98%80",
    ):
        # A story withdrawn after publication was public once: its page is Gone (410) for
        # everyone, which tells nothing that was not public; every other hidden state is 404.
        hidden = [i for state, i in ids.items() if state != "withdrawn" or "/api/" in path]
        shapes = {_shape(client.get(path.format(i))) for i in hidden}
        assert shapes == {next(iter(shapes))} and next(iter(shapes))[0] == 404, (path, shapes)
        if "/api/" not in path:
            assert client.get(path.format(ids["withdrawn"])).status_code == 410
    # Positive control: the story's real status link still opens it.
    from webapp.extensions import db
    from webapp.models import Story

    with app.app_context():
        token = db.session.get(Story, ids["submitted"]).status_token
    assert client.get(f"/stories/{ids['submitted']}?t={token}").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        f"/stories/{HUGE}",
        f"/stories/{HUGE}-slug",
        f"/api/v1/stories/{HUGE}",
        f"/media/{HUGE}/thumb",
        f"/organisations/{HUGE}",
        f"/organisations/{HUGE}-slug",
    ],
)
def test_huge_numbers_in_public_addresses_are_not_found(client, path):
    assert client.get(path).status_code == 404


def test_takedown_with_odd_story_numbers_is_accepted_like_any_request(client):
    for raw in (HUGE, "²", "٣", "-1", "0"):
        page = client.post("/takedown", data={"story_id": raw, "reason": "please remove"})
        assert page.status_code == 200, raw
    for number in (int(HUGE), -1, 0):
        answer = client.post(
            "/api/v1/takedown-requests", json={"story_id": number, "reason": "please remove"}
        )
        assert answer.status_code == 202, number
    refused = client.post("/api/v1/takedown-requests", json={"story_id": True, "reason": "x"})
    assert refused.status_code == 400
    assert refused.json["error"]["field"] == "story_id"


def test_staff_pages_and_listing_refuse_odd_numbers_clearly(app, world, token_for):
    archivist = app.test_client()
    assert login(archivist, "archivist@example.org").status_code == 302
    assert archivist.get(f"/moderation/stories/{HUGE}").status_code == 404
    assert archivist.get(f"/curation/collections/{HUGE}").status_code == 404
    for value in (HUGE, "%C2%B2"):
        assert archivist.get(f"/moderation/?organisation={value}").status_code == 200
    auth = {"Authorization": f"Bearer {token_for(world.archivist)}"}
    for query, field in (
        ("organisation=%C2%B2", "organisation"),
        (f"organisation={HUGE}", "organisation"),
        ("limit=%C2%B2", "limit"),
        (f"limit={HUGE}", "limit"),
        ("cursor=" + base64.urlsafe_b64encode(f"after:{HUGE}".encode()).decode(), "cursor"),
    ):
        answer = archivist.get(f"/api/v1/stories?{query}", headers=auth)
        assert answer.status_code == 400, query
        assert answer.json["error"]["field"] == field
    # Positive control: a plain listing works for the same caller.
    assert archivist.get("/api/v1/stories?limit=5", headers=auth).status_code == 200
