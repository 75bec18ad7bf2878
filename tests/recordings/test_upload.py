"""Handing in audio and video with a story: recognised by content, limited, stored or refused
whole."""

from __future__ import annotations

import hashlib

import pytest

from tests.conftest import build_app, create_user_now, issue_token_now, make_jpeg
from tests.recordings.generate import AUDIO_FORMATS, make_audio, make_video


def _stored(app) -> list[str]:
    from webapp.services import backends

    with app.app_context():
        return [item.key for item in backends.object_store().list("")]


def _media_rows(app) -> int:
    from webapp.extensions import db
    from webapp.models import MediaAsset

    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(MediaAsset))


@pytest.mark.parametrize("fmt", sorted(AUDIO_FORMATS))
def test_each_audio_format_is_accepted_as_audio(app, upload, fmt):
    data = make_audio(fmt, seconds=2.0)
    response = upload((f"entretien.{fmt}", data))
    assert response.status_code == 202, response.json
    media = response.json["media"][0]
    assert media["kind"] == "audio"
    assert media["state"] == "pending"
    assert 1.9 <= media["duration"] <= 2.2
    assert media["sha256"] == hashlib.sha256(data).hexdigest()
    assert media["mime_type"].startswith("audio/")
    assert f"originals/sha256/{media['sha256'][:2]}/{media['sha256']}" in _stored(app)


@pytest.mark.parametrize(
    ("container", "codec", "mime"),
    [
        ("mp4", "libx264", "video/mp4"),
        ("mov", "libx264", "video/quicktime"),
        ("webm", "libvpx-vp9", "video/webm"),
    ],  # fmt: skip
)
def test_each_video_format_is_accepted_as_video(upload, container, codec, mime):
    data = make_video(seconds=1.0, container_format=container, codec=codec)
    response = upload((f"clip.{container}", data))
    assert response.status_code == 202, response.json
    media = response.json["media"][0]
    assert (media["kind"], media["mime_type"]) == ("video", mime)
    assert (media["width"], media["height"]) == (320, 240)
    assert 0.9 <= media["duration"] <= 1.2


def test_images_part_still_takes_images_and_recordings_side_by_side(upload):
    photo, voice = ("photo.jpg", make_jpeg()), ("voix.wav", make_audio("wav", 1.0))
    response = upload(photo, voice, part="images")
    assert response.status_code == 202, response.json
    assert [m["kind"] for m in response.json["media"]] == ["image", "audio"]
    assert response.json["media"][0]["width"] == 640


def test_the_name_and_declared_type_do_not_matter_the_content_does(client, token):
    import io
    import json

    from tests.conftest import story_metadata

    data = {
        "metadata": json.dumps(story_metadata()),
        "files": [(io.BytesIO(make_audio("flac", 1.0)), "photo.jpg", "image/jpeg")],
    }
    response = client.post(
        "/api/v1/stories", data=data, headers={"Authorization": f"Bearer {token}"},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert response.status_code == 202
    assert response.json["media"][0]["kind"] == "audio"
    assert response.json["media"][0]["mime_type"] == "audio/flac"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("interview.mp3", b"ID3 this is only text pretending to be an MP3 " * 200),
        ("video.mp4", b"\x00\x00\x00\x18ftypisom" + b"\x00" * 4000),
        ("notes.wav", b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x01" * 60),
    ],
)
def test_a_damaged_recording_is_refused_as_damaged_not_as_a_format(app, upload, name, content):
    """An MP3 that cannot be read is damaged: never "format not accepted: MP3" (MP3 is)."""
    response = upload(("photo.jpg", make_jpeg()), (name, content))
    assert response.status_code == 422, response.json
    message = response.json["error"]["message"]
    assert message.startswith(f"{name}: ")
    assert "damaged or incomplete" in message and "not accepted" not in message
    assert _stored(app) == [] and _media_rows(app) == 0


def test_a_damaged_mp3_is_explained_in_french(client, token):
    import io
    import json

    from tests.conftest import story_metadata

    damaged = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb" + b"\x00" * 5000
    response = client.post(
        "/api/v1/stories",
        data={
            "metadata": json.dumps(story_metadata()),
            "files": [(io.BytesIO(damaged), "mamie.mp3")],
        },
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "fr"},
        content_type="multipart/form-data",
    )
    message = response.json["error"]["message"]
    assert response.status_code == 422
    assert message.startswith("mamie.mp3 : cet enregistrement est abîmé ou incomplet"), message
    assert "format non accepté" not in message


def test_a_text_file_is_still_refused_as_not_a_file_we_accept(upload):
    response = upload(("notes.txt", b"hello world " * 400))
    assert response.status_code == 422
    message = response.json["error"]["message"]
    assert "audio" in message and "video" in message and "damaged" not in message


def test_a_recording_longer_than_the_limit_is_refused_with_the_limit(tmp_path):
    app = build_app(tmp_path / "d", MAX_RECORDING_MINUTES="1")
    with app.app_context():
        create_user_now("c@example.org", "contributor", "long-enough-pw")
        token = issue_token_now("c@example.org")
    from tests.conftest import submit_story_via_api

    long_tone = make_audio("mp3", seconds=61.0, rate=8000)
    response = submit_story_via_api(app.test_client(), token, images=[("long.mp3", long_tone)])
    assert response.status_code == 413, response.json
    assert "the limit is 1 min 00 s" in response.json["error"]["message"]
    assert _stored(app) == []


def test_a_recording_larger_than_the_limit_is_refused_with_the_limit(tmp_path):
    app = build_app(tmp_path / "d", MAX_RECORDING_MB="1")
    with app.app_context():
        create_user_now("c@example.org", "contributor", "long-enough-pw")
        token = issue_token_now("c@example.org")
    from tests.conftest import submit_story_via_api

    wav = make_audio("wav", seconds=12.0)  # 48 kHz, 16 bits: 1.1 MB
    assert len(wav) > 1024 * 1024
    response = submit_story_via_api(app.test_client(), token, images=[("big.wav", wav)])
    assert response.status_code == 413, response.json
    assert "the limit is 1 MB per audio or video recording" in response.json["error"]["message"]
    assert _stored(app) == []


def test_a_dropped_connection_stores_nothing(app, client, token):
    """The body ends before its announced length (the client went away during the upload)."""
    import io

    boundary = "----passages-test"
    wav = make_audio("wav", seconds=3.0)
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'
        '{"title": "t"}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    body = head + wav + f"\r\n--{boundary}--\r\n".encode()
    cut = body[: len(body) // 2]
    response = client.post(
        "/api/v1/stories",
        input_stream=io.BytesIO(cut),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(body)),
        },
    )
    assert response.status_code == 400
    assert _stored(app) == [] and _media_rows(app) == 0


def test_the_upload_routes_take_a_recording_larger_than_the_other_routes(app):
    settings = app.extensions["passages.settings"]
    assert app.config["MAX_CONTENT_LENGTH"] >= settings.max_recording_bytes
    assert settings.max_recording_mb == 1024
