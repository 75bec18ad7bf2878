"""The moderation endpoints added to the JSON API."""

from __future__ import annotations


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_teacher_forwards_and_records_consent_through_the_api(
    app, client, world, new_story, token_for
):
    story_id = new_story(world.student)
    teacher = token_for(world.teacher)
    answer = client.post(
        f"/api/v1/stories/{story_id}/transitions",
        json={"action": "forward"},
        headers=_auth(teacher),
    )
    assert answer.status_code == 200 and answer.json["status"] == "in_review"
    again = client.post(
        f"/api/v1/stories/{story_id}/transitions",
        json={"action": "forward"},
        headers=_auth(teacher),
    )
    assert again.status_code == 409
    consent = client.post(
        f"/api/v1/stories/{story_id}/guardian-consent",
        json={"given_by": "père"},
        headers=_auth(teacher),
    )
    assert consent.status_code == 200 and consent.json["guardian_consent"] == "received"
    denied = client.post(
        f"/api/v1/stories/{story_id}/transitions",
        json={"action": "publish"},
        headers=_auth(teacher),
    )
    assert denied.status_code in (403, 409)


def test_unknown_action_is_a_400_and_anonymous_moves_are_404(
    app, client, world, new_story, token_for
):
    story_id = new_story(world.member)
    bad = client.post(
        f"/api/v1/stories/{story_id}/transitions",
        json={"action": "teleport"},
        headers=_auth(token_for(world.archivist)),
    )
    assert bad.status_code == 400 and bad.json["error"]["field"] == "action"
    anonymous = client.post(f"/api/v1/stories/{story_id}/transitions", json={"action": "reject"})
    assert anonymous.status_code == 404


def test_takedown_request_and_erasure_through_the_api(app, client, world, new_story, token_for):
    story_id = new_story(world.member)
    asked = client.post(
        "/api/v1/takedown-requests",
        json={"story_id": story_id, "reason": "my photo", "erasure": True},
    )
    assert asked.status_code == 202
    refused = client.post(
        f"/api/v1/stories/{story_id}/erase", headers=_auth(token_for(world.teacher))
    )
    assert refused.status_code == 403
    done = client.post(
        f"/api/v1/stories/{story_id}/erase", headers=_auth(token_for(world.archivist))
    )
    assert done.status_code == 200 and done.json["erased"] is True
    gone = client.get(f"/api/v1/stories/{story_id}", headers=_auth(token_for(world.archivist)))
    assert gone.status_code == 404
