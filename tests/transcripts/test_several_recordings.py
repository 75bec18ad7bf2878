"""A story with several recordings: a word said in the second one leads to the second one (the
address names the recording), and each audio player offers its waveform's peaks."""

from __future__ import annotations

import json

from tests.transcripts.conftest import INTERVIEW_VTT


def _second_recording(app, story_id: int, *, peaks: bool = False) -> int:
    """Add a second audio recording (consent given) to the story; return its id."""
    from webapp.extensions import db
    from webapp.models import MediaAsset, RecordingConsent, Story
    from webapp.services import backends

    with app.app_context():
        story = db.session.get(Story, story_id)
        media = MediaAsset(
            position=1,
            original_key=f"originals/sha256/{story_id + 500:064x}",
            sha256=f"{story_id + 500:064x}",
            mime_type="audio/mp4",
            kind="audio",
            byte_size=1000,
            original_filename="fille.m4a",
            state="ready",
            derivatives={"audio": {"key": "derivatives/x/audio.m4a", "mime": "audio/mp4"}},
        )
        story.media.append(media)
        db.session.flush()
        if peaks:
            body = json.dumps({"version": 2, "length": 1, "data": [-10, 10]}).encode()
            key = f"derivatives/{media.id}/peaks.json"
            backends.object_store().put(key, body, content_type="application/json")
            media.derivatives = {
                **media.derivatives,
                "peaks": {"key": key, "mime": "application/json", "bytes": len(body)},
            }
        db.session.add(RecordingConsent(media_id=media.id, person="Leïla", consent_given=True))
        db.session.commit()
        return media.id


def test_a_word_said_in_the_second_recording_links_to_that_recording(
    app, client, make_user, api_token, recorded_story, index_now
):
    archivist = make_user("archivist")
    story_id, first = recorded_story(submitted_by=archivist)
    second = _second_recording(app, story_id)
    attached = client.post(
        f"/api/v1/media/{second}/transcripts?language=fr",
        data=INTERVIEW_VTT.encode(),
        headers={"Authorization": f"Bearer {api_token(archivist)}", "Content-Type": "text/vtt"},
    )
    assert attached.status_code == 201
    index_now(story_id)

    (result,) = client.get("/api/v1/search?q=tabouret").json["results"]
    assert result["at"]["media"] == second and result["at"]["start"] == 12.0
    assert result["url"].endswith(f"#t=00:12&media={second}")

    page = client.get("/search?q=tabouret").get_data(as_text=True)
    assert f"#t=00:12&amp;media={second}" in page
    assert f"media={first}" not in page

    story = client.get(f"/stories/{story_id}", follow_redirects=True).get_data(as_text=True)
    # The transcript's own lines name their recording too (a click writes them in the address).
    assert f'href="#t=00:12&amp;media={second}" class="seek cue"' in story


def test_an_audio_player_offers_its_waveform_peaks_when_there_are_some(app, client, recorded_story):
    story_id, first = recorded_story()
    second = _second_recording(app, story_id, peaks=True)
    page = client.get(f"/stories/{story_id}", follow_redirects=True).get_data(as_text=True)
    assert f'data-peaks="/media/{second}/peaks"' in page
    assert f"/media/{first}/peaks" not in page  # no peaks yet: the plain player only
    peaks = client.get(f"/media/{second}/peaks")
    assert peaks.status_code == 200 and peaks.json["data"] == [-10, 10]
