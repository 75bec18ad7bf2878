"""The JSON API acts only on bearer tokens: a logged-in cookie (what a cross-site form would
carry) gets 401 on every write, whatever the ``Origin``; unknown, revoked and expired tokens and
deactivated users get 401; reads with only a cookie see what an anonymous visitor sees."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.security.conftest import login

ORIGINS = [None, "https://evil.example", "null", "http://passages.test", "https://passages.test"]


def _writes(story_id: int) -> list[tuple[str, dict]]:
    return [
        (f"/api/v1/stories/{story_id}/withdraw", {"note": "csrf"}),
        (f"/api/v1/stories/{story_id}/review", {"decision": "approve"}),
        (f"/api/v1/stories/{story_id}/transitions", {"action": "publish"}),
        (f"/api/v1/stories/{story_id}/guardian-consent", {"given_by": "csrf"}),
        (f"/api/v1/stories/{story_id}/erase", {}),
        ("/api/v1/takedown-requests", {"story_id": story_id, "reason": "csrf"}),
    ]


def _status(app, story_id):
    from webapp.extensions import db
    from webapp.models import Story

    with app.app_context():
        story = db.session.get(Story, story_id)
        return story.status if story else None


def test_archivist_cookie_cannot_act_on_the_api(app, client, world, new_story, publish):
    story_id = new_story(world.member)
    publish(story_id)
    assert login(client, "archivist@example.org").status_code == 302
    for origin in ORIGINS:
        headers = {"Origin": origin} if origin else {}
        for path, body in _writes(story_id):
            # JSON, and the form encodings a cross-site <form> can send.
            for kwargs in (
                {"json": body},
                {"data": body},
                {"data": "x", "content_type": "text/plain"},
            ):
                response = client.post(path, headers=headers, **kwargs)
                assert response.status_code == 401, (path, origin, kwargs, response.status_code)
                assert response.json["error"]["code"] == "authentication_required"
                assert "WWW-Authenticate" in response.headers
    assert _status(app, story_id) == "published"


def test_cookie_on_a_read_is_treated_as_anonymous(app, client, world, new_story):
    story_id = new_story(world.member)  # submitted, not public
    assert login(client, "archivist@example.org").status_code == 302
    assert client.get(f"/api/v1/stories/{story_id}").status_code == 404


def test_the_same_call_with_a_token_works(app, client, world, new_story, publish, token_for):
    story_id = new_story(world.member)
    publish(story_id)
    token = token_for(world.archivist)
    response = client.post(
        f"/api/v1/stories/{story_id}/withdraw",
        json={"note": "asked by the family"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.json
    assert _status(app, story_id) == "withdrawn"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer psg_unknown",
        "Bearer ",
        "bearer psg_x y",
        "Bearer " + "a" * 5000,
        "Bearer \u00e9\u00e9",
    ],
)
def test_bad_tokens_get_401(client, world, new_story, header):
    story_id = new_story(world.member)
    response = client.post(
        f"/api/v1/stories/{story_id}/withdraw", json={}, headers={"Authorization": header}
    )
    assert response.status_code == 401


def token_works(client, token: str) -> bool:
    """A valid token reaches the API (an unknown story: 404); a refused one gets 401."""
    response = client.get("/api/v1/stories/999999", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (401, 404), response.status_code
    return response.status_code == 404


def _token_row(app, token):
    from webapp.extensions import db
    from webapp.models import ApiToken

    return db.session.scalar(
        db.select(ApiToken).where(ApiToken.token_sha256 == ApiToken.digest(token))
    )


def test_revoked_expired_and_deactivated_tokens_stop_working(app, client, world, token_for):
    from webapp.models import User, utcnow
    from webapp.services import accounts
    from webapp.unit_of_work import unit_of_work

    def works(token):
        return token_works(client, token)

    revoked, expired, owner_gone = (token_for(world.member) for _ in range(3))
    assert works(revoked) and works(expired) and works(owner_gone)
    with app.app_context():
        with unit_of_work() as uow:
            accounts.revoke_token(uow, None, _token_row(app, revoked).id)
        with unit_of_work():
            _token_row(app, expired).expires_at = utcnow() - timedelta(seconds=1)
    assert not works(revoked) and not works(expired) and works(owner_gone)
    with app.app_context(), unit_of_work() as uow:
        from webapp.extensions import db

        accounts.set_active(uow, db.session.get(User, world.admin), world.member, False)
    assert not works(owner_gone)


def test_new_tokens_expire_after_the_configured_days(app, world):
    from tests.conftest import issue_token_now
    from webapp.models import utcnow

    with app.app_context():
        token = issue_token_now("member@example.org")
        expires = _token_row(app, token).expires_at
        days = (expires.replace(tzinfo=None) - utcnow().replace(tzinfo=None)).days
        assert 363 <= days <= 365


def test_a_person_lists_creates_and_revokes_their_tokens_in_the_ui(app, client, world):
    assert login(client, "member@example.org").status_code == 302
    page = client.post("/account", data={"what": "token", "label": "import script"})
    assert page.status_code == 200
    import re

    token = re.search(r"psg_[\w-]+", page.get_data(as_text=True)).group(0)
    assert token_works(client, token)
    listing = client.get("/account").get_data(as_text=True)
    assert "import script" in listing and token not in listing
    token_id = int(re.search(r'name="token_id" value="(\d+)"', listing).group(1))
    client.post("/account", data={"what": "revoke", "token_id": str(token_id)})
    assert not token_works(client, token)
    # Someone else's token id: nothing happens to it.
    other = app.test_client()
    assert login(other, "teacher@example.org").status_code == 302
    with app.app_context():
        from tests.conftest import issue_token_now

        teachers = issue_token_now("teacher@example.org")
    client.post("/account", data={"what": "revoke", "token_id": str(_id(app, teachers))})
    assert token_works(client, teachers)


def _id(app, token):
    with app.app_context():
        return _token_row(app, token).id


def test_cli_lists_and_revokes_tokens(app, world):
    from webapp.cli import main

    with app.app_context():
        from tests.conftest import issue_token_now

        token = issue_token_now("member@example.org", "cli-test")
    runner = app.test_cli_runner()
    listing = runner.invoke(main, ["list-tokens", "--email", "member@example.org"])
    assert listing.exit_code == 0 and "cli-test" in listing.output and token not in listing.output
    token_id = listing.output.split("\t", 1)[0].strip()
    revoked = runner.invoke(main, ["revoke-token", token_id])
    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in runner.invoke(main, ["list-tokens"]).output
    assert not token_works(app.test_client(), token)
