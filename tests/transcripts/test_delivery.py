"""How recordings and their WebVTT tracks are delivered: revalidated cheaply (ETag,
Last-Modified, 304), fetched in parts the way players and download managers ask (one range, a
range past the end, several ranges), and never kept by a cache for more than a few seconds, so a
story withdrawn from publication stops being heard within seconds."""

from __future__ import annotations

import re

import pytest

from tests.transcripts.conftest import INTERVIEW_VTT


@pytest.fixture
def archivist_token(make_user, api_token) -> str:
    return api_token(make_user("archivist"))


def _attach(client, media_id: int, token: str, vtt: str) -> None:
    response = client.post(
        f"/api/v1/media/{media_id}/transcripts?language=fr",
        data=vtt.encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/vtt"},
    )
    assert response.status_code == 201, response.json


@pytest.fixture
def interview(recorded_story, client, archivist_token):
    """A published interview with a playable recording and a French transcript."""
    story_id, media_id = recorded_story(audio=True)
    _attach(client, media_id, archivist_token, INTERVIEW_VTT)
    return story_id, media_id


@pytest.fixture
def visitor(app):
    """Someone not logged in: what browsers and shared caches see."""
    return app.test_client()


def _withdraw(app, story_id: int) -> None:
    from webapp.extensions import db
    from webapp.models import Story

    with app.app_context():
        db.session.get(Story, story_id).status = "withdrawn"
        db.session.commit()


def _max_age(response) -> int:
    match = re.search(r"max-age=(\d+)", response.headers["Cache-Control"])
    assert match is not None, response.headers["Cache-Control"]
    return int(match.group(1))


def test_a_transcript_track_is_revalidated_with_a_304_instead_of_sent_again(
    visitor, client, interview
):
    _story_id, media_id = interview
    url = f"/media/{media_id}/transcripts/fr.vtt"
    first = visitor.get(url)
    assert first.status_code == 200 and "tabouret" in first.get_data(as_text=True)
    assert first.headers["ETag"] and first.headers["Last-Modified"]
    again = visitor.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    dated = visitor.get(url, headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert dated.status_code == 304


def test_a_corrected_transcript_is_not_mistaken_for_the_cached_one(
    visitor, client, interview, archivist_token
):
    _story_id, media_id = interview
    url = f"/media/{media_id}/transcripts/fr.vtt"
    old = visitor.get(url)
    _attach(client, media_id, archivist_token, INTERVIEW_VTT.replace("tabouret", "fauteuil"))
    fresh = visitor.get(url, headers={"If-None-Match": old.headers["ETag"]})
    assert fresh.status_code == 200 and "fauteuil" in fresh.get_data(as_text=True)


def test_the_chapters_track_answers_304_when_unchanged(visitor, client, interview, login):
    _story_id, media_id = interview
    login("archivist")
    client.post(
        f"/recordings/{media_id}/index-points",
        data={"time": "00:12", "title": "La cour", "keywords": "", "summary": ""},
    )
    first = visitor.get(f"/media/{media_id}/chapters.vtt")
    assert first.status_code == 200 and "La cour" in first.get_data(as_text=True)
    again = visitor.get(f"/media/{media_id}/chapters.vtt",
                       headers={"If-None-Match": first.headers["ETag"]})  # fmt: skip
    assert again.status_code == 304


def test_a_recording_is_revalidated_by_its_etag(visitor, client, interview):
    _story_id, media_id = interview
    whole = visitor.get(f"/media/{media_id}/audio")
    assert whole.status_code == 200 and whole.headers["ETag"] and whole.headers["Last-Modified"]
    again = visitor.get(
        f"/media/{media_id}/audio", headers={"If-None-Match": whole.headers["ETag"]}
    )
    assert again.status_code == 304 and again.data == b""


def test_a_range_past_the_end_is_416_and_says_the_length(visitor, client, interview):
    _story_id, media_id = interview
    size = len(visitor.get(f"/media/{media_id}/audio").data)
    beyond = visitor.get(f"/media/{media_id}/audio", headers={"Range": f"bytes={size + 5}-"})
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{size}"


def test_several_ranges_at_once_get_the_whole_recording(visitor, client, interview):
    _story_id, media_id = interview
    whole = visitor.get(f"/media/{media_id}/audio").data
    several = visitor.get(f"/media/{media_id}/audio", headers={"Range": "bytes=0-99,200-299"})
    assert several.status_code == 200
    assert several.data == whole
    assert "Content-Range" not in several.headers
    none_there = visitor.get(
        f"/media/{media_id}/audio",
        headers={"Range": f"bytes={len(whole) + 1}-{len(whole) + 9},{len(whole) + 20}-"},
    )
    assert none_there.status_code == 416
    assert none_there.headers["Content-Range"] == f"bytes */{len(whole)}"


@pytest.mark.parametrize(
    "spec",
    [
        "bytes=abc",  # a syntax error
        "items=0-1",  # a unit the server does not know (RFC 9110: MUST be ignored)
        "bytes=5-1",  # a reversed part
        "bytes=0-10,5-20",  # overlapping parts
        "bytes=0-10,0-10,0-10",  # the same part thrice
        "bytes=100-199,0-99",  # parts out of order
        "bytes=-",
        "bytes=0-1," + ",".join(["0-1"] * 2000),
    ],
)
def test_a_range_that_cannot_be_read_is_ignored_and_the_whole_recording_sent(
    visitor, client, interview, spec
):
    """RFC 9110 §14.2: a download manager's odd Range gets the file, not an error page."""
    _story_id, media_id = interview
    whole = visitor.get(f"/media/{media_id}/audio").data
    response = visitor.get(f"/media/{media_id}/audio", headers={"Range": spec})
    assert response.status_code == 200
    assert response.data == whole
    assert "Content-Range" not in response.headers


def test_several_parts_of_which_one_exists_get_the_whole_recording(visitor, client, interview):
    _story_id, media_id = interview
    whole = visitor.get(f"/media/{media_id}/audio").data
    response = visitor.get(
        f"/media/{media_id}/audio", headers={"Range": f"bytes={len(whole) + 10}-,0-9"}
    )
    assert response.status_code == 200 and response.data == whole


@pytest.mark.parametrize("spec", ["bytes=-0", "bytes={beyond}-{beyond},{before}-"])
def test_a_range_naming_no_byte_of_the_recording_is_416(visitor, client, interview, spec):
    _story_id, media_id = interview
    size = len(visitor.get(f"/media/{media_id}/audio").data)
    spec = spec.format(beyond=size + 100, before=size)
    response = visitor.get(f"/media/{media_id}/audio", headers={"Range": spec})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{size}"


def test_one_readable_part_is_still_a_206(visitor, client, interview):
    _story_id, media_id = interview
    whole = visitor.get(f"/media/{media_id}/audio").data
    response = visitor.get(f"/media/{media_id}/audio", headers={"Range": "bytes=10-19"})
    assert response.status_code == 206 and response.data == whole[10:20]
    assert response.headers["Content-Range"] == f"bytes 10-19/{len(whole)}"


def test_a_part_asked_for_with_a_stale_if_range_gets_the_whole_new_file(visitor, client, interview):
    _story_id, media_id = interview
    url = f"/media/{media_id}/audio"
    whole = visitor.get(url)
    fresh = visitor.get(url, headers={"Range": "bytes=0-9", "If-Range": whole.headers["ETag"]})
    assert fresh.status_code == 206 and fresh.data == whole.data[:10]
    stale = visitor.get(url, headers={"Range": "bytes=0-9", "If-Range": '"another-version"'})
    assert stale.status_code == 200 and stale.data == whole.data


@pytest.mark.parametrize("path", ["audio", "transcripts/fr.vtt"])
def test_a_withdrawn_story_s_recording_leaves_caches_within_seconds(
    app, visitor, client, interview, path
):
    story_id, media_id = interview
    public = visitor.get(f"/media/{media_id}/{path}")
    assert public.status_code == 200
    assert public.headers["Cache-Control"].startswith("public")
    assert "must-revalidate" in public.headers["Cache-Control"]
    assert _max_age(public) <= 5
    _withdraw(app, story_id)
    # A cache revalidating what it kept is told the recording is gone, not "still the same".
    gone = visitor.get(f"/media/{media_id}/{path}",
                      headers={"If-None-Match": public.headers["ETag"]})  # fmt: skip
    assert gone.status_code == 404
