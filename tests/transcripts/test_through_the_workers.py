"""Through the real outbox, relay and worker processes: a transcript attached to a published
recording becomes searchable, and erasing the story purges its words from every index file."""

from __future__ import annotations

import pytest

from tests.transcripts.conftest import INTERVIEW_VTT

pytestmark = pytest.mark.slow


def _index_bytes(app) -> bytes:
    from webapp.services import backends

    with app.app_context():
        folder = backends.settings().index_dir
    return b"".join(f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file())


def test_a_transcript_is_searched_after_the_outbox_and_erased_with_its_story(
    app, client, login, make_user, api_token, recorded_story, run_worker_burst
):
    owner = make_user("archivist")  # a published story's words: archive only
    story_id, media_id = recorded_story(submitted_by=owner)
    response = client.post(
        f"/api/v1/media/{media_id}/transcripts?language=fr",
        data=INTERVIEW_VTT.encode(),
        headers={"Authorization": f"Bearer {api_token(owner)}", "Content-Type": "text/vtt"},
    )
    assert response.status_code == 201
    assert client.get("/api/v1/search?q=tabouret").json["total"] == 0  # not indexed yet

    run_worker_burst(app, "--queues", "search,default")
    results = client.get("/api/v1/search?q=tabouret").json["results"]
    assert [r["id"] for r in results] == [story_id]
    assert results[0]["at"] == {
        "media": media_id,
        "start": 12.0,
        "said": "Mon père réparait un <mark>tabouret</mark> dans la cour.",
    }
    before = _index_bytes(app)
    assert b"tabouret" in before and b"reparait" in before  # the words said, as index terms

    login("archivist")
    erased = client.post(f"/moderation/stories/{story_id}/erase", data={"confirm": "ERASE"})
    assert erased.status_code == 303
    run_worker_burst(app, "--queues", "search,default")
    index = _index_bytes(app)
    assert b"tabouret" not in index and b"reparait" not in index
    assert client.get("/api/v1/search?q=tabouret").json["total"] == 0
    assert client.get(f"/media/{media_id}/transcripts/fr.vtt").status_code == 404
