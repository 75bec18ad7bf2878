"""Submitting through POST /api/v1/stories: what integrations and the form rely on."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from tests.conftest import make_jpeg, story_metadata


def _stored_nothing(app) -> None:
    from webapp.extensions import db
    from webapp.models import MediaAsset, OutboxEvent, Story
    from webapp.services import backends

    with app.app_context():
        for model in (Story, MediaAsset, OutboxEvent):
            assert db.session.scalar(db.select(db.func.count()).select_from(model)) == 0
        assert list(backends.object_store().list("originals/")) == []


@pytest.fixture
def token(make_user, api_token):
    return api_token(make_user("contributor"))


def test_valid_story_with_images_is_accepted_with_a_status_link(app, token, submit_via_api):
    response = submit_via_api(
        token, images=[("a.jpg", make_jpeg(seed=1)), ("b.jpg", make_jpeg(seed=2))]
    )
    assert response.status_code == 202, response.json
    body = response.json
    assert body["status"] == "submitted" and isinstance(body["id"], int)
    assert body["url"] is None  # not public yet
    assert [m["state"] for m in body["media"]] == ["pending", "pending"]
    assert body["media"][0]["width"] == 640 and body["media"][0]["height"] == 480
    assert body["status_url"].startswith("http")
    assert response.headers["Location"].endswith(f"/api/v1/stories/{body['id']}")


def test_written_testimony_without_images_is_a_story(token, submit_via_api):
    response = submit_via_api(token, story_metadata(period="1960s"))
    assert response.status_code == 202
    assert response.json["media"] == []


def test_original_is_kept_byte_for_byte_and_addressed_by_sha256(app, token, submit_via_api):
    import hashlib

    from webapp.services import backends

    original = make_jpeg(seed=5, progressive=True)
    response = submit_via_api(token, images=[("photo.JPG", original)])
    sha = hashlib.sha256(original).hexdigest()
    assert response.json["media"][0]["sha256"] == sha
    with app.app_context():
        assert backends.object_store().get(f"originals/sha256/{sha[:2]}/{sha}") == original


def test_same_photo_in_two_stories_is_stored_once(app, token, submit_via_api):
    from webapp.services import backends

    photo = make_jpeg(seed=9)
    assert submit_via_api(token, images=[("x.jpg", photo)]).status_code == 202
    assert submit_via_api(token, images=[("y.jpg", photo)]).status_code == 202
    with app.app_context():
        assert len(list(backends.object_store().list("originals/"))) == 1


def test_language_tags_beyond_a_short_list_are_accepted(token, submit_via_api):
    for tag in ("ar", "zh-Hant", "ckb-Latn", "snk", "ber-Tfng"):
        response = submit_via_api(token, story_metadata(language=tag))
        assert response.status_code == 202, (tag, response.json)


@pytest.mark.parametrize(
    ("metadata", "status", "field", "words"),
    [
        ("{not json", 400, "metadata", "not valid JSON"),
        ("[1, 2]", 422, "metadata", "must be a group of fields"),
        (story_metadata(title=42), 422, "title", "Title: must be a string of text"),
        (story_metadata(title="   "), 422, "title", "must not be empty"),
        (story_metadata(language="French!"), 422, "language", "BCP 47"),
        (story_metadata(places="Ivry"), 422, "places", "Places: must be a list"),
        (story_metadata(licence="free"), 422, "licence", "Licence: choose one of"),
        (story_metadata(consent={"contributor": False}), 422, "consent.contributor", "true"),
        (story_metadata(period="yesterday"), 422, "period", "1962-1975"),
        (story_metadata(colour="blue"), 422, "colour", "“colour” is not a field of a story"),
        # JSON's "\ud800" escapes decode to lone surrogates: not text, and never storable.
        (story_metadata(title="Le march\ud800é"), 422, "title", "not text"),
        (story_metadata(places=["Ivry", "\udfff"]), 422, "places.1", "not text"),
        (story_metadata(**{"\ud83d": "x"}), 422, "metadata", "not text"),
        (story_metadata(title="nul\x00title"), 422, "title", "control character"),
        (story_metadata(body="bell\x07"), 422, "body", "control character"),
    ],
)
def test_bad_metadata_gets_a_specific_error_and_stores_nothing(
    app, token, submit_via_api, metadata, status, field, words
):
    response = submit_via_api(token, metadata, images=[("a.jpg", make_jpeg())])
    assert response.status_code == status
    error = response.json["error"]
    assert error["field"] == field
    assert words in error["message"]
    _stored_nothing(app)


def _nested(depth: int) -> str:
    """A story whose ``places`` holds lists ``depth`` levels deep."""
    metadata = json.dumps(story_metadata(places="PLACES"))
    return metadata.replace('"PLACES"', "[" * depth + "]" * depth)


@pytest.mark.parametrize(
    "metadata",
    ["[" * 100_000, "{" + '"a":{' * 50_000, _nested(900), _nested(40)],
    ids=["100000 brackets", "50000 objects", "900 deep", "40 deep"],
)
def test_too_deeply_nested_metadata_is_a_400_and_stores_nothing(
    app, token, submit_via_api, metadata
):
    """Nested past Python's own limit, json.loads raised RecursionError: a 500 and a crash log."""
    response = submit_via_api(token, metadata, images=[("a.jpg", make_jpeg())])
    assert response.status_code == 400
    assert response.json["error"]["field"] == "metadata"
    assert "nested too deeply: at most 32 levels" in response.json["error"]["message"]
    _stored_nothing(app)


def test_too_deeply_nested_metadata_is_explained_in_french(app, client, token):
    response = client.post(
        "/api/v1/stories",
        data={"metadata": "[" * 100_000},
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "fr"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "La description de l’histoire est trop imbriquée" in response.json["error"]["message"]
    _stored_nothing(app)


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("notes.jpg", b"%PDF-1.4 this is a pdf, not a photo", "notes.jpg"),
        ("page.png", b"<html><body>hello</body></html>", "page.png"),
        ("empty.jpg", b"", "empty"),
        ("cut.jpg", make_jpeg(800, 600)[:1500], "cut.jpg"),
    ],
)
def test_non_images_are_refused_by_content_and_nothing_is_kept(
    app, token, submit_via_api, name, content, words
):
    good = ("good.jpg", make_jpeg(seed=3))
    response = submit_via_api(token, images=[good, (name, content)])
    assert 400 <= response.status_code < 500
    assert response.json["error"]["field"] == "images"
    assert words in response.json["error"]["message"]
    _stored_nothing(app)


def test_image_extension_does_not_matter_content_does(token, submit_via_api):
    png = io.BytesIO()
    Image.new("RGB", (300, 200), "orange").save(png, "PNG")
    response = submit_via_api(token, images=[("scan.jpg", png.getvalue())])
    assert response.status_code == 202
    assert response.json["media"][0]["mime_type"] == "image/png"


def test_too_large_image_is_refused_with_the_limit(tmp_path, api_token):
    from tests.conftest import build_app, create_user_now, issue_token_now, submit_story_via_api

    app = build_app(tmp_path / "d", MAX_UPLOAD_MB="1")
    with app.app_context():
        create_user_now("c@example.org", "contributor", "long-enough-pw")
        token = issue_token_now("c@example.org")
    big = make_jpeg(3000, 3000, quality=100) + b"\0" * (1024 * 1024)
    response = submit_story_via_api(app.test_client(), token, images=[("big.jpg", big)])
    assert response.status_code == 413
    assert "limit is 1 MB" in response.json["error"]["message"]
    _stored_nothing(app)


def test_too_many_images_is_refused(token, submit_via_api, app):
    images = [(f"{i}.jpg", make_jpeg(64, 64, seed=i)) for i in range(21)]
    response = submit_via_api(token, images=images)
    assert response.status_code == 422
    assert "at most 20" in response.json["error"]["message"]
    _stored_nothing(app)


def test_decompression_bomb_is_refused_before_decoding(token, submit_via_api, app):
    bomb = io.BytesIO()
    Image.new("1", (20000, 20000)).save(bomb, "PNG")
    response = submit_via_api(token, images=[("bomb.png", bomb.getvalue())])
    assert response.status_code == 422
    assert "too large" in response.json["error"]["message"]
    _stored_nothing(app)


def test_submission_needs_a_valid_token(client, app):
    from tests.conftest import submit_story_via_api

    response = submit_story_via_api(client, "psg_not-a-real-token")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "authentication_required"
    _stored_nothing(app)


def test_missing_metadata_part_is_explained(client, token):
    response = client.post(
        "/api/v1/stories",
        data={},
        headers={"Authorization": f"Bearer {token}"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "metadata" in response.json["error"]["message"]


def test_failure_during_commit_leaves_no_rows_and_no_objects(
    app, token, submit_via_api, monkeypatch
):
    from webapp.services import outbox

    def broken_emit(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(outbox, "emit", broken_emit)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = submit_via_api(token, images=[("a.jpg", make_jpeg(seed=11))])
    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal_error"
    _stored_nothing(app)


def test_failed_submission_does_not_remove_an_original_another_story_uses(
    app, token, submit_via_api, monkeypatch
):
    from webapp.services import backends, outbox

    photo = make_jpeg(seed=12)
    assert submit_via_api(token, images=[("first.jpg", photo)]).status_code == 202
    monkeypatch.setattr(outbox, "emit", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("x")))
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert submit_via_api(token, images=[("again.jpg", photo)]).status_code == 500
    with app.app_context():
        assert len(list(backends.object_store().list("originals/"))) == 1


def test_unpublished_story_is_hidden_from_others_but_not_its_submitter(
    app, client, token, submit_via_api, make_user, api_token
):
    story_id = submit_via_api(token).json["id"]
    assert client.get(f"/api/v1/stories/{story_id}").status_code == 404
    other = api_token(make_user("contributor"))
    headers = {"Authorization": f"Bearer {other}"}
    assert client.get(f"/api/v1/stories/{story_id}", headers=headers).status_code == 404
    own = client.get(f"/api/v1/stories/{story_id}", headers={"Authorization": f"Bearer {token}"})
    assert own.status_code == 200 and own.json["status"] == "submitted"
    assert client.get(f"/stories/{story_id}").status_code == 404


def test_review_needs_an_archivist_and_a_known_decision(
    client, token, submit_via_api, make_user, api_token
):
    story_id = submit_via_api(token).json["id"]
    url = f"/api/v1/stories/{story_id}/review"
    as_contributor = client.post(
        url, json={"decision": "approve"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert as_contributor.status_code == 403
    archivist = {"Authorization": f"Bearer {api_token(make_user('archivist'))}"}
    odd = client.post(url, json={"decision": "maybe"}, headers=archivist)
    assert odd.status_code == 400 and odd.json["error"]["field"] == "decision"
    assert (
        client.post(url, json={"decision": "reject", "note": "off topic"}, headers=archivist).json[
            "status"
        ]
        == "rejected"
    )
    again = client.post(url, json={"decision": "approve"}, headers=archivist)
    assert again.status_code == 409
    assert "rejected" in again.json["error"]["message"]


def test_tabs_and_line_breaks_are_text(token, submit_via_api):
    body = "Premier paragraphe.\r\n\r\n\tSecond paragraphe,\nsur deux lignes."
    response = submit_via_api(token, story_metadata(body=body))
    assert response.status_code == 202, response.json
