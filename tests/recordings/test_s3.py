"""Recordings on the S3 backend: the original streamed in, derivatives streamed out, parts
served from a stream that cannot seek."""

from __future__ import annotations

import hashlib
import io
import json

import av

from tests.conftest import _dispose, build_app, create_user_now, issue_token_now, story_metadata
from tests.recordings.generate import LOCATION, make_video


def test_a_video_goes_through_s3_whole_and_is_served_in_parts(tmp_path, moto_server):
    from workers.context import use_app
    from workers.recordings import derive_recording

    app = build_app(
        tmp_path / "data",
        S3_ENDPOINT=moto_server.url,
        S3_ACCESS_KEY=moto_server.access_key,
        S3_SECRET_KEY=moto_server.secret_key,
        S3_BUCKET="recordings",
        S3_REGION=moto_server.region,
    )
    try:
        with app.app_context():
            create_user_now("c@example.org", "contributor", "long-enough-pw")
            token = issue_token_now("c@example.org")
        film = make_video(seconds=2.0, container_format="mov", location=LOCATION)
        client = app.test_client()
        response = client.post(
            "/api/v1/stories",
            data={"metadata": json.dumps(story_metadata()), "files": [(io.BytesIO(film), "f.mov")]},
            headers={"Authorization": f"Bearer {token}"},
            content_type="multipart/form-data",
        )
        assert response.status_code == 202, response.json
        media = response.json["media"][0]
        use_app(app)
        assert derive_recording(media["id"]) == "derived"
        from webapp.services import backends

        with app.app_context():
            store = backends.object_store()
            original = store.get(f"originals/sha256/{media['sha256'][:2]}/{media['sha256']}")
            assert hashlib.sha256(original).hexdigest() == media["sha256"]
            video = store.get(f"derivatives/{media['id']}/video.mp4")
        assert b"48.8566" not in video
        with av.open(io.BytesIO(video)) as played:
            assert played.streams.video[0].codec_context.name == "h264"
        document = client.get(
            f"/api/v1/stories/{response.json['id']}", headers={"Authorization": f"Bearer {token}"}
        ).json
        link = document["media"][0]["derivatives"]["video"].replace("http://passages.test", "")
        part = client.get(link, headers={"Range": "bytes=1000-1999"})
        assert part.status_code == 206 and part.data == video[1000:2000]
    finally:
        _dispose(app)
