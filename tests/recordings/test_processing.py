"""The recording job: playable web derivatives, no metadata of the original, progress, failures.

The job runs here in the test process (as the worker's horse runs it); the queue it is sent to
and the worker process are checked in ``test_worker_queue.py``.
"""

from __future__ import annotations

import io
import json
import random

import av
import pytest
from PIL import Image

from tests.recordings.generate import LOCATION, make_audio, make_video
from webapp.reasons import words


def _media(app, media_id: int):
    from webapp.extensions import db
    from webapp.models import MediaAsset

    with app.app_context():
        media = db.session.get(MediaAsset, media_id)
        db.session.expunge(media)
        return media


def _object(app, key: str) -> bytes:
    from webapp.services import backends

    with app.app_context():
        return backends.object_store().get(key)


def _events(app, event_type: str) -> list[dict]:
    from webapp.extensions import db
    from webapp.models import OutboxEvent

    with app.app_context():
        return [
            e.payload
            for e in db.session.scalars(
                db.select(OutboxEvent).where(OutboxEvent.event_type == event_type)
            )
        ]


def _probe(data: bytes) -> av.container.InputContainer:
    return av.open(io.BytesIO(data))


def test_audio_becomes_aac_in_mp4_with_its_waveform(app, upload, derive):
    response = upload(("grand-mere.flac", make_audio("flac", seconds=4.0)))
    media_id = response.json["media"][0]["id"]
    assert derive(media_id) == "derived"
    media = _media(app, media_id)
    assert (media.state, media.progress, media.failure_reason) == ("ready", 100, None)
    assert set(media.derivatives) == {"audio", "peaks", "waveform"}
    audio = media.derivatives["audio"]
    assert audio["mime"] == "audio/mp4" and audio["key"].endswith("/audio.m4a")
    with _probe(_object(app, audio["key"])) as played:
        assert [s.codec_context.name for s in played.streams] == ["aac"]
        assert 3.9 <= played.duration / av.time_base <= 4.2
        assert 80_000 <= played.streams.audio[0].bit_rate <= 140_000
        decoded = sum(frame.samples for frame in played.decode(audio=0))
        assert decoded >= 3.9 * played.streams.audio[0].sample_rate
    peaks = json.loads(_object(app, media.derivatives["peaks"]["key"]))
    assert peaks["version"] == 2 and peaks["bits"] == 8 and peaks["length"] > 500
    assert len(peaks["data"]) == 2 * peaks["length"]
    assert max(peaks["data"]) > 30  # the tone is loud: the peaks show it
    waveform = Image.open(io.BytesIO(_object(app, media.derivatives["waveform"]["key"])))
    assert (waveform.format, waveform.size) == ("PNG", (400, 60))
    assert _events(app, "media.derived") == [{"media_id": media_id, "story_id": media.story_id}]


def test_video_becomes_h264_at_most_720p_with_a_poster(app, upload, derive):
    # MPEG-4 Part 2 in, H.264 out: made in 0.4 s where an x264 original took this test 4.7 s.
    phone = make_video(seconds=1.5, width=1280, height=960, fps=50, codec="mpeg4")
    media_id = upload(("film.mov", phone)).json["media"][0]["id"]
    assert derive(media_id) == "derived"
    media = _media(app, media_id)
    assert media.state == "ready"
    assert set(media.derivatives) == {"video", "poster", "thumb", "square"}
    with _probe(_object(app, media.derivatives["video"]["key"])) as played:
        video = played.streams.video[0]
        assert video.codec_context.name == "h264"
        assert (video.codec_context.width, video.codec_context.height) == (960, 720)
        assert float(video.average_rate) == 25  # 50 fps halved
        assert played.streams.audio[0].codec_context.name == "aac"
        assert len(list(played.decode(video=0))) >= 36
    poster = Image.open(io.BytesIO(_object(app, media.derivatives["poster"]["key"])))
    assert (poster.format, poster.size) == ("JPEG", (960, 720))
    assert media.derivatives["thumb"]["mime"] == "image/webp"


def test_a_phone_videos_recording_place_never_reaches_the_derivative(app, upload, derive):
    tagged = make_video(seconds=1.0, container_format="mov", location=LOCATION)
    assert b"48.8566" in tagged  # the original carries it, as a phone's does
    with _probe(tagged) as original:
        assert original.metadata.get("location") == LOCATION
    media_id = upload(("tel.mov", tagged)).json["media"][0]["id"]
    derive(media_id)
    media = _media(app, media_id)
    for name, entry in media.derivatives.items():
        data = _object(app, entry["key"])
        assert b"48.8566" not in data and b"+002.3522" not in data, name
        assert b"\xa9xyz" not in data and b"ISO6709" not in data, name
    with _probe(_object(app, media.derivatives["video"]["key"])) as derived:
        tags = dict(derived.metadata)
        for stream in derived.streams:
            tags.update(stream.metadata)
        assert not any("location" in key.lower() for key in tags), tags
        assert "encoder" not in derived.metadata


def test_progress_is_written_while_the_job_runs(app, upload, derive, monkeypatch):
    from workers import recordings

    monkeypatch.setattr(recordings, "PROGRESS_INTERVAL", 0.0)
    seen: list[int] = []
    original = recordings._Progress.__call__

    def spy(self, fraction):
        original(self, fraction)
        seen.append(_media(app, self.media_id).progress)

    monkeypatch.setattr(recordings._Progress, "__call__", spy)
    media_id = upload(("a.mp3", make_audio("mp3", seconds=5.0))).json["media"][0]["id"]
    derive(media_id)
    assert len(set(seen)) > 10 and seen == sorted(seen) and 0 < seen[-1] < 100
    assert _media(app, media_id).progress == 100


def test_a_recording_damaged_after_its_start_ends_failed_with_a_reason(app, upload, derive):
    data = bytearray(make_audio("mp3", seconds=6.0))
    noise = random.Random(1)
    for i in range(len(data) * 6 // 10, len(data)):
        data[i] = noise.randrange(256)
    response = upload(("abime.mp3", bytes(data)))
    assert response.status_code == 202  # its first seconds decode: accepted at upload
    media_id = response.json["media"][0]["id"]
    assert derive(media_id) == "failed"
    media = _media(app, media_id)
    assert media.state == "failed" and media.progress is None
    assert media.failure_reason.startswith("recording_unconvertible ")  # a code, then its detail
    assert words(media.failure_reason).startswith("the recording could not be converted (Invalid")
    assert media.derivatives == {}
    failed = _events(app, "media.failed")
    assert failed == [{"media_id": media_id, "story_id": media.story_id,
                       "reason": media.failure_reason}]  # fmt: skip


def test_a_changed_original_fails_its_fixity_check(app, upload, derive):
    from webapp.services import backends

    media = upload(("a.wav", make_audio("wav", seconds=1.0))).json["media"][0]
    with app.app_context():
        key = f"originals/sha256/{media['sha256'][:2]}/{media['sha256']}"
        backends.object_store().put(key, make_audio("wav", seconds=1.5))
    assert derive(media["id"]) == "failed"
    assert "checksum" in words(_media(app, media["id"]).failure_reason)


def test_running_the_job_twice_does_the_work_once(app, upload, derive):
    media_id = upload(("a.ogg", make_audio("ogg", seconds=1.0))).json["media"][0]["id"]
    assert derive(media_id) == "derived"
    assert derive(media_id) == "already done"
    assert derive(media_id, force=True) == "derived"


@pytest.mark.parametrize("kind", ["audio", "video"])
def test_the_api_document_names_the_derivatives(app, client, upload, derive, token, kind):
    data = make_audio("wav", 1.0) if kind == "audio" else make_video(seconds=1.0)
    story = upload((f"x.{kind}", data)).json
    media_id = story["media"][0]["id"]
    pending = client.get(
        f"/api/v1/stories/{story['id']}", headers={"Authorization": f"Bearer {token}"}
    ).json["media"][0]
    assert pending["derivatives"] == {} and pending["state"] == "pending"
    derive(media_id)
    media = client.get(
        f"/api/v1/stories/{story['id']}", headers={"Authorization": f"Bearer {token}"}
    ).json["media"][0]
    assert media["kind"] == kind and media["duration"] > 0.9
    expected = {"audio": {"audio", "peaks", "waveform"},
                "video": {"video", "poster", "thumb", "square"}}[kind]  # fmt: skip
    assert set(media["derivatives"]) == expected
    assert "iiif" not in media
    played = client.get(
        media["derivatives"][kind].replace("http://passages.test", ""),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert played.status_code == 200
    assert played.mimetype == ("audio/mp4" if kind == "audio" else "video/mp4")
