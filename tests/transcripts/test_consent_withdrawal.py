"""A person recorded withdraws consent after publication: the story leaves public view at once
(page, API, search, the recording and its transcript) and goes back to the archivists' review,
with a history entry and a message, through the outbox so kept pages and the index follow.

The app runs on the session's real Redis with the page cache on, as in
``tests/public/test_page_cache.py``.
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import _dispose, build_app
from tests.transcripts.conftest import INTERVIEW_VTT


@pytest.fixture
def app(tmp_path, redis_server):
    app = build_app(tmp_path / "data", REDIS_URL=redis_server.url, PAGE_CACHE_SECONDS="300")
    yield app
    _dispose(app)


def _relay_and_index(app, story_id: int) -> None:
    """What the relay and the search worker do after the commit, in this process."""
    from workers import search
    from workers.context import use_app
    from workers.relay import relay_once

    use_app(app)
    with app.app_context():
        relay_once()
    search.index_story(story_id)


def _store_playable_file(app, media_id: int) -> None:
    """Bytes where the recording's playable derivative is expected (served as they are)."""
    from webapp.extensions import db
    from webapp.models import MediaAsset
    from webapp.services import backends

    with app.app_context():
        key = db.session.get(MediaAsset, media_id).derivatives["audio"]["key"]
        backends.object_store().put(key, b"\x00" * 2048, content_type="audio/mp4")


def _public_views(story_id: int, media_id: int) -> dict[str, str]:
    return {
        "story page": f"/stories/{story_id}",
        "home": "/",
        "search page": "/search?q=tabouret",
        "api search": "/api/v1/search?q=tabouret",
        "api listing": "/api/v1/stories",
        "recording": f"/media/{media_id}/audio",
        "transcript": f"/media/{media_id}/transcripts/fr.vtt",
    }


def _shows(client, url: str) -> bool:
    response = client.get(url, follow_redirects=True)
    if response.status_code != 200:
        return False
    if "/media/" in url:
        return True
    return "Entretien avec Fatima" in response.get_data(as_text=True)


@pytest.mark.slow  # seven public views asked three times each, the relay and the index job
def test_consent_withdrawn_after_publication_takes_the_story_out_of_public_view(
    app, client, make_user, api_token, recorded_story, login
):
    from webapp.extensions import db
    from webapp.models import Notification, Story

    owner = make_user("contributor")
    archivist = make_user("archivist")
    story_id, media_id = recorded_story(submitted_by=owner)
    _store_playable_file(app, media_id)
    answer = client.post(
        f"/api/v1/media/{media_id}/transcripts?language=fr",
        data=INTERVIEW_VTT.encode(),
        headers={"Authorization": f"Bearer {api_token(archivist)}", "Content-Type": "text/vtt"},
    )
    assert answer.status_code == 201
    _relay_and_index(app, story_id)
    views = _public_views(story_id, media_id)
    for name, url in views.items():
        client.get(url)  # asked twice: the page cache keeps it
        assert _shows(client, url), f"{name} does not show the published story"

    started = time.monotonic()
    withdrawn = client.post(
        f"/api/v1/media/{media_id}/consent",
        json={"person": "Fatima", "consent": False},
        headers={"Authorization": f"Bearer {api_token(owner)}"},
    )
    assert withdrawn.status_code == 200 and withdrawn.json["story_status"] == "in_review"
    _relay_and_index(app, story_id)
    for name, url in views.items():
        assert not _shows(client, url), f"{name} still shows it after consent was withdrawn"
    assert time.monotonic() - started < 5
    assert client.get("/api/v1/search?q=tabouret").json["total"] == 0

    with app.app_context():
        assert db.session.get(Story, story_id).status == "in_review"
        told = db.session.scalars(
            db.select(Notification.user_id).where(Notification.kind == "consent_withdrawn")
        ).all()
    assert archivist in told  # the archive hears of it; the contributor did it themselves

    login("archivist")
    page = client.get(f"/moderation/stories/{story_id}").get_data(as_text=True)
    assert "retirée de la vue publique" in page and "fatima.m4a" in page
    # Back in the queue, it cannot be published again while the consent is missing.
    refused = client.post(
        f"/api/v1/stories/{story_id}/review",
        json={"decision": "approve"},
        headers={"Authorization": f"Bearer {api_token(archivist)}"},
    )
    assert refused.json["status"] == "approved"
    assert not _shows(app.test_client(), f"/stories/{story_id}")  # the public still sees nothing


def test_consent_given_again_lets_the_archive_publish_it_again(
    app, client, make_user, api_token, recorded_story
):
    owner = make_user("contributor")
    archivist = {"Authorization": f"Bearer {api_token(make_user('archivist'))}"}
    story_id, media_id = recorded_story(submitted_by=owner)
    url = f"/api/v1/media/{media_id}/consent"
    mine = {"Authorization": f"Bearer {api_token(owner)}"}
    withdrawn = client.post(url, json={"person": "Fatima", "consent": False}, headers=mine).json
    assert withdrawn["blockers"] and withdrawn["story_status"] == "in_review"
    assert client.get(f"/stories/{story_id}").status_code == 410  # gone, as when withdrawn
    assert client.get(f"/api/v1/stories/{story_id}").status_code in (404, 410)
    assert (
        client.post(url, json={"person": "Fatima", "consent": True}, headers=mine).json["blockers"]
        == []
    )
    review = client.post(
        f"/api/v1/stories/{story_id}/review", json={"decision": "approve"}, headers=archivist
    )
    assert review.json["status"] == "published"
    assert "Entretien avec Fatima" in client.get(
        f"/stories/{story_id}", follow_redirects=True
    ).get_data(as_text=True)


def test_the_move_is_never_offered_nor_accepted_by_itself(
    app, client, make_user, api_token, recorded_story
):
    archivist = {"Authorization": f"Bearer {api_token(make_user('archivist'))}"}
    story_id, _ = recorded_story()
    refused = client.post(
        f"/api/v1/stories/{story_id}/transitions",
        json={"action": "consent_withdrawn"},
        headers=archivist,
    )
    assert refused.status_code == 400
    assert client.get(f"/stories/{story_id}", follow_redirects=True).status_code == 200
