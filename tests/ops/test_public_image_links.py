"""Published images are reachable by browsers: links never name the internal S3 address.

The deployment's values come from ``docker-compose.yml`` itself, where the object store is
``minio:9000`` — a name only containers resolve.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from tests.conftest import REPO, _dispose, build_app
from tests.service_processes import MotoServer


def compose_value(name: str) -> str:
    """The value the compose file gives ``name``, with ``${VAR:-default}`` taken as its default."""
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    raw = str(compose["x-passages-env"][name])
    return re.sub(r"\$\{[A-Z0-9_]+:?-([^}]*)\}", r"\1", raw)


def published_image(app, store_key: str) -> int:
    """A published story with one ready image whose ``large`` derivative is ``store_key``."""
    from webapp.extensions import db
    from webapp.models import MediaAsset, MediaState, Story, StoryStatus, utcnow

    with app.app_context():
        story = Story(
            title="Le port de Marseille",
            language="fr",
            licence="CC-BY-4.0",
            status=StoryStatus.PUBLISHED.value,
            published_at=utcnow(),
        )
        story.media.append(
            MediaAsset(
                original_key="originals/sha256/ab/" + "ab" * 32,
                sha256="ab" * 32,
                mime_type="image/jpeg",
                byte_size=10,
                state=MediaState.READY.value,
                derivatives={"large": {"key": store_key, "mime": "image/webp"}},
            )
        )
        db.session.add(story)
        db.session.commit()
        return story.media[0].id


def test_compose_configuration_links_point_at_the_public_endpoint(tmp_path: Path) -> None:
    internal = compose_value("S3_ENDPOINT")
    public = compose_value("S3_PUBLIC_ENDPOINT")
    assert internal.split(":")[0] == "minio"
    app = build_app(
        tmp_path / "data",
        S3_ENDPOINT=internal,
        S3_ACCESS_KEY=compose_value("S3_ACCESS_KEY"),
        S3_SECRET_KEY="change-me-too",
        S3_BUCKET=compose_value("S3_BUCKET"),
        S3_PUBLIC_ENDPOINT=public,
    )
    try:
        media_id = published_image(app, "derivatives/1/large.webp")

        response = app.test_client().get(f"/media/{media_id}/large")

        assert response.status_code == 302
        link = urlsplit(response.headers["Location"])
        assert f"{link.scheme}://{link.netloc}" == public.rstrip("/")
        assert "minio" not in response.headers["Location"]
        assert "X-Amz-Signature=" in link.query
    finally:
        _dispose(app)


def published_recording(app, store_key: str, duration: float) -> tuple[int, int]:
    """A published story with one ready audio recording of ``duration`` seconds."""
    from webapp.extensions import db
    from webapp.models import MediaAsset, MediaState, Story, StoryStatus, utcnow

    with app.app_context():
        story = Story(
            title="Entretien avec Fatima",
            language="fr",
            licence="CC-BY-4.0",
            status=StoryStatus.PUBLISHED.value,
            published_at=utcnow(),
        )
        story.media.append(
            MediaAsset(
                original_key="originals/sha256/cd/" + "cd" * 32,
                sha256="cd" * 32,
                mime_type="audio/mp4",
                kind="audio",
                byte_size=10,
                duration=duration,
                state=MediaState.READY.value,
                derivatives={"audio": {"key": store_key, "mime": "audio/mp4"}},
            )
        )
        db.session.add(story)
        db.session.commit()
        return story.id, story.media[0].id


def test_a_recording_link_lasts_ten_minutes_however_long_the_recording(tmp_path: Path) -> None:
    """Issue 17: a link to a withdrawn voice must not keep working for hours (it used to last
    the recording's length plus two hours); the player asks again for a fresh one."""
    app = build_app(
        tmp_path / "data",
        S3_ENDPOINT=compose_value("S3_ENDPOINT"),
        S3_ACCESS_KEY=compose_value("S3_ACCESS_KEY"),
        S3_SECRET_KEY="change-me-too",
        S3_BUCKET=compose_value("S3_BUCKET"),
        S3_PUBLIC_ENDPOINT=compose_value("S3_PUBLIC_ENDPOINT"),
    )
    try:
        story_id, media_id = published_recording(app, "derivatives/2/audio.m4a", 3 * 3600.0)

        response = app.test_client().get(f"/media/{media_id}/audio")

        assert response.status_code == 302
        query = parse_qs(urlsplit(response.headers["Location"]).query)
        assert query["X-Amz-Expires"] == ["600"]

        from webapp.extensions import db
        from webapp.models import Story

        with app.app_context():
            db.session.get(Story, story_id).status = "withdrawn"
            db.session.commit()
        assert app.test_client().get(f"/media/{media_id}/audio").status_code == 404
    finally:
        _dispose(app)


def test_without_a_public_endpoint_the_app_streams_the_image(
    tmp_path: Path, moto_server: MotoServer
) -> None:
    """No public address configured: the browser gets the bytes from the site, cacheable."""
    app = build_app(
        tmp_path / "data",
        S3_ENDPOINT=moto_server.url,
        S3_ACCESS_KEY=moto_server.access_key,
        S3_SECRET_KEY=moto_server.secret_key,
        S3_BUCKET="streamed-links",
        S3_REGION=moto_server.region,
    )
    try:
        with app.app_context():
            from webapp.services import backends

            backends.object_store().put("derivatives/1/large.webp", b"webp bytes", "image/webp")
        media_id = published_image(app, "derivatives/1/large.webp")

        response = app.test_client().get(f"/media/{media_id}/large")

        assert response.status_code == 200
        assert response.data == b"webp bytes"
        # Cached a few seconds and revalidated, so a withdrawal takes effect within seconds.
        assert "public, max-age=5, must-revalidate" in response.headers["Cache-Control"]
        assert response.headers["ETag"]  # the S3 object's own: a revalidation is a 304
        assert "Location" not in response.headers
    finally:
        _dispose(app)


@pytest.mark.parametrize("public_host", ["localhost"])
def test_public_link_is_signed_for_the_public_host_and_works_there(
    tmp_path: Path, moto_server: MotoServer, public_host: str
) -> None:
    public = moto_server.url.replace("127.0.0.1", public_host)
    app = build_app(
        tmp_path / "data",
        S3_ENDPOINT=moto_server.url,
        S3_ACCESS_KEY=moto_server.access_key,
        S3_SECRET_KEY=moto_server.secret_key,
        S3_BUCKET="public-host-links",
        S3_REGION=moto_server.region,
        S3_PUBLIC_ENDPOINT=public,
    )
    try:
        import urllib.request

        with app.app_context():
            from webapp.services import backends

            backends.object_store().put("derivatives/1/large.webp", b"via public", "image/webp")
        media_id = published_image(app, "derivatives/1/large.webp")

        location = app.test_client().get(f"/media/{media_id}/large").headers["Location"]

        assert location.startswith(public + "/")
        with urllib.request.urlopen(location, timeout=5) as response:
            assert response.read() == b"via public"
    finally:
        _dispose(app)
