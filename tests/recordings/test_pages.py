"""Recordings on the pages: played from the story page once public, fetched in parts, their
conversion's progress on the status page, and the form that hands them in."""

from __future__ import annotations

import io

import pytest

from tests.conftest import make_jpeg, story_metadata
from tests.recordings.generate import make_audio, make_video


@pytest.fixture
def publish(app, publish):
    """Publish once the people heard or seen have agreed (the consent rule for recordings)."""

    def do(story_id: int) -> None:
        from webapp.extensions import db
        from webapp.models import MediaAsset, RecordingConsent
        from webapp.unit_of_work import unit_of_work

        with app.app_context(), unit_of_work():
            for media in db.session.scalars(
                db.select(MediaAsset).where(MediaAsset.story_id == story_id)
            ):
                if media.is_recording:
                    db.session.add(
                        RecordingConsent(media_id=media.id, person="Fatima", consent_given=True)
                    )
        publish(story_id)

    return do


def _story_id_and_media(upload, *files):
    story = upload(*files).json
    return story["id"], [m["id"] for m in story["media"]]


def test_a_published_video_plays_on_the_story_page_and_not_before(
    app, client, upload, derive, publish
):
    story_id, (media_id,) = _story_id_and_media(upload, ("film.mov", make_video(seconds=1.0)))
    derive(media_id)
    assert client.get(f"/media/{media_id}/video").status_code in (403, 404)
    assert client.get(f"/stories/{story_id}").status_code in (403, 404)
    publish(story_id)
    page = client.get(f"/stories/{story_id}", follow_redirects=True)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<video" in html and f"/media/{media_id}/video" in html
    assert f"/media/{media_id}/poster" in html
    played = client.get(f"/media/{media_id}/video")
    assert played.status_code == 200 and played.mimetype == "video/mp4"
    assert "media-src 'self'" in page.headers["Content-Security-Policy"]


def test_a_recording_is_served_in_parts_so_players_can_seek(app, client, upload, derive, publish):
    story_id, (media_id,) = _story_id_and_media(upload, ("voix.wav", make_audio("wav", 3.0)))
    derive(media_id)
    publish(story_id)
    whole = client.get(f"/media/{media_id}/audio")
    assert whole.status_code == 200
    size = len(whole.data)
    part = client.get(f"/media/{media_id}/audio", headers={"Range": "bytes=100-299"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 100-299/{size}"
    assert part.data == whole.data[100:300]
    tail = client.get(f"/media/{media_id}/audio", headers={"Range": f"bytes={size - 10}-"})
    assert tail.status_code == 206 and tail.data == whole.data[-10:]
    beyond = client.get(f"/media/{media_id}/audio", headers={"Range": f"bytes={size + 5}-"})
    assert beyond.status_code == 416


def test_the_status_page_says_how_far_the_conversion_is(app, client, upload):
    from webapp.extensions import db
    from webapp.models import MediaAsset
    from webapp.unit_of_work import unit_of_work

    story = upload(("voix.mp3", make_audio("mp3", 2.0))).json
    media_id = story["media"][0]["id"]
    with app.app_context(), unit_of_work():
        db.session.get(MediaAsset, media_id).progress = 42
    status_path = story["status_url"].replace("http://passages.test", "")
    page = client.get(status_path).get_data(as_text=True)  # French, the default
    assert "en préparation : 42 %" in page
    assert "00:02" in page  # its length, not "None×None"
    states = client.get(status_path + "/media.json").json
    assert states["media"][0]["progress"] == 42
    assert states["media"][0]["state_label"] == "en préparation : 42 %"


def _form(files, descriptions: str = "") -> dict:
    data = {
        "title": "Entretien avec ma grand-mère",
        "body": "Elle raconte son arrivée.",
        "language": "fr",
        "licence": "CC-BY-4.0",
        "consent": "yes",
        "alt_texts": descriptions,
        "images": [(io.BytesIO(content), name) for name, content in files],
    }
    return data


def test_the_form_takes_a_recording_without_a_description_but_still_wants_one_per_image(
    app, client
):
    from webapp.extensions import db
    from webapp.models import MediaAsset

    voice = ("grand-mere.m4a", make_audio("m4a", 2.0))
    sent = client.post("/submit", data=_form([voice]), content_type="multipart/form-data")
    assert sent.status_code == 303, sent.get_data(as_text=True)[:2000]
    with app.app_context():
        kinds = db.session.scalars(db.select(MediaAsset.kind)).all()
    assert kinds == ["audio"]
    photo = ("photo.jpg", make_jpeg())
    refused = client.post(
        "/submit", data=_form([voice, photo], "\n"), content_type="multipart/form-data"
    )
    assert refused.status_code == 422
    assert "photo.jpg" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(MediaAsset)) == 1


def test_the_form_offers_audio_and_video_and_their_own_size_limit(client):
    html = client.get("/submit").get_data(as_text=True)
    assert 'accept="image/*,audio/*,video/*"' in html
    assert f'data-max-recording-bytes="{1024 * 1048576}"' in html
    assert "audio/mpeg" in html and "video/quicktime" in html


def test_a_recording_never_becomes_an_iiif_image_or_the_shared_picture(
    app, client, upload, derive, publish
):
    story_id, ids = _story_id_and_media(
        upload, ("film.mov", make_video(seconds=1.0)), ("photo.jpg", make_jpeg())
    )
    for media_id in ids:
        if derive(media_id) == "not a recording":
            from workers.images import derive_media

            derive_media(media_id)
    publish(story_id)
    video_id, image_id = ids
    assert client.get(f"/iiif/3/{video_id}/info.json").status_code == 404
    html = client.get(f"/stories/{story_id}", follow_redirects=True).get_data(as_text=True)
    assert f'/media/{image_id}/large" property' in html or f"/media/{image_id}/large" in html
    assert f"/media/{video_id}/large" not in html
    story = client.get(f"/api/v1/stories/{story_id}").json
    assert "iiif" not in story["media"][0] and "iiif" in story["media"][1]
    assert story_metadata()  # the fixtures' metadata is what was sent
