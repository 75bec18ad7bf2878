"""Unpublished story ids cannot be told from unknown ones: guardian consent, takedown requests,
public pages, images and the API answer alike for a draft, a submitted, a rejected, a withdrawn
story and a number that never existed."""

from __future__ import annotations

from tests.conftest import in_action
from tests.security.conftest import login


def _stories_in_every_hidden_state(app, world, new_story, user) -> dict[str, int]:
    from webapp.services import review

    ids = {"submitted": new_story(world.member), "rejected": new_story(world.member)}
    ids["withdrawn"] = new_story(world.member)
    with app.app_context():
        archivist = user(world.archivist)
        in_action(review.review, ids["rejected"], "reject", "not for us", archivist)
        in_action(review.review, ids["withdrawn"], "approve", None, archivist)
        in_action(review.withdraw, ids["withdrawn"], "asked", archivist)
    ids["student"] = new_story(world.student)  # waits for its teacher
    ids["unknown"] = 987654
    return ids


def _shape(response):
    body = response.get_json(silent=True)
    if body is not None:
        return (
            response.status_code,
            body.get("error", {}).get("code"),
            body.get("error", {}).get("message"),
        )
    return response.status_code, None, None


def test_guardian_consent_answers_alike_for_every_hidden_state(
    app, world, new_story, user, token_for
):
    ids = _stories_in_every_hidden_state(app, world, new_story, user)
    client = app.test_client()
    # A teacher of another class, and a contributor: neither may record consent anywhere.
    for person in (world.other_teacher, world.member):
        auth = {"Authorization": f"Bearer {token_for(person)}"}
        shapes = {
            _shape(
                client.post(
                    f"/api/v1/stories/{i}/guardian-consent", json={"given_by": "m"}, headers=auth
                )
            )
            for i in ids.values()
        }
        assert len(shapes) == 1, shapes
        assert next(iter(shapes))[0] == 404


def test_takedown_answers_alike_for_every_hidden_state(app, world, new_story, user):
    ids = _stories_in_every_hidden_state(app, world, new_story, user)
    client = app.test_client()
    shapes = set()
    for story_id in ids.values():
        response = client.post(
            "/api/v1/takedown-requests", json={"story_id": story_id, "reason": "mine"}
        )
        shapes.add((response.status_code, response.json["state"]))
    assert shapes == {(202, "open")}
    pages = set()
    for story_id in ids.values():
        response = client.post("/takedown", data={"story_id": str(story_id), "reason": "mine"})
        pages.add(response.status_code)
    assert pages == {200}


def test_public_pages_and_api_answer_alike(app, world, new_story, user):
    ids = _stories_in_every_hidden_state(app, world, new_story, user)
    anonymous = app.test_client()
    cookie = app.test_client()
    assert login(cookie, "teacher@example.org").status_code == 302  # ignored by the API
    for path in ("/stories/{}", "/api/v1/stories/{}"):
        for client in (anonymous, cookie) if "api" in path else (anonymous,):
            # A page withdrawn after publication is Gone (410): it was public, nothing is told.
            hidden = [i for state, i in ids.items() if state != "withdrawn" or "api" in path]
            shapes = {_shape(client.get(path.format(i))) for i in hidden}
            assert len(shapes) == 1, (path, shapes)
            assert next(iter(shapes))[0] == 404
