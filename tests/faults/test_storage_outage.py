"""An S3 outage is an outage, not a bug: 503 with Retry-After, /readyz 503, nothing half-saved.

Real processes: gunicorn (two workers) serving the app, a throw-away moto_server as S3 and a
redis-server. The S3 server is stopped while the app runs (API and form submissions must answer
503 with ``Retry-After`` and store nothing), started again (moto keeps nothing: the bucket the app
had made is gone, so the next submission must create it again), and finally the bucket is deleted
behind the app's back while S3 runs (the next submission creates it again too).
"""

from __future__ import annotations

import http.cookiejar
import io
import json
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
from minio import Minio

from tests.conftest import _dispose, build_app, make_jpeg, story_metadata
from tests.faults.gunicorn_process import Gunicorn
from tests.service_processes import MotoServer, ServiceNotInstalled, service_missing

pytestmark = pytest.mark.slow

BUCKET = "outage-archive"


def _multipart(fields: dict[str, str], images: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(value.encode() + b"\r\n")
    for filename, data in images:
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="images"; '
            f'filename="{filename}"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
        )
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def _call(opener, request: urllib.request.Request) -> tuple[int, dict[str, str], bytes]:
    try:
        with opener.open(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class Visitor:
    """An API client with a token, and a browser with cookies (CSRF) for the form."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.token = token
        self.browser = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
            _NoRedirect(),
        )
        self.api = urllib.request.build_opener(_NoRedirect())
        self.seed = 100

    def submit_api(self) -> tuple[int, dict[str, str], dict]:
        self.seed += 1
        body, content_type = _multipart(
            {"metadata": json.dumps(story_metadata())}, [("p.jpg", make_jpeg(seed=self.seed))]
        )
        request = urllib.request.Request(
            self.base + "/api/v1/stories",
            data=body,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": content_type},
            method="POST",
        )
        status, headers, raw = _call(self.api, request)
        return status, headers, json.loads(raw)

    def submit_form(self) -> tuple[int, dict[str, str], str]:
        status, _, page = _call(self.browser, urllib.request.Request(self.base + "/submit"))
        assert status == 200
        html = page.decode()
        fields = {
            name: re.search(rf'name="{name}" value="([^"]*)"', html).group(1)
            for name in ("csrf_token", "idempotency_key")
        }
        fields.update(
            title="La valise bleue",
            body="Mon père est arrivé avec une valise bleue.",
            language="fr",
            licence="CC-BY-4.0",
            consent="yes",
            alt_texts="une valise",
        )
        self.seed += 1
        body, content_type = _multipart(fields, [("v.jpg", make_jpeg(seed=self.seed))])
        request = urllib.request.Request(
            self.base + "/submit",
            data=body,
            headers={"Content-Type": content_type},
            method="POST",
        )
        status, headers, raw = _call(self.browser, request)
        return status, headers, raw.decode()

    def readyz(self) -> tuple[int, dict[str, str], dict]:
        status, headers, raw = _call(self.api, urllib.request.Request(self.base + "/readyz"))
        return status, headers, json.loads(raw)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 303 after a hand-in is the answer we look at


def _stories(app) -> int:
    from webapp.extensions import db
    from webapp.models import Story

    with app.app_context():
        db.session.remove()
        return db.session.scalar(db.select(db.func.count(Story.id)))


def _objects(s3: Minio) -> list[str]:
    if not s3.bucket_exists(BUCKET):
        return []
    return sorted(obj.object_name for obj in s3.list_objects(BUCKET, recursive=True))


def test_s3_outage_gives_503_and_readyz_503_then_recovers_and_recreates_the_bucket(
    tmp_path, redis_server
):
    try:
        s3_server = MotoServer()
    except ServiceNotInstalled as exc:
        service_missing(str(exc))
    server = None
    with s3_server:
        app = build_app(
            tmp_path / "data",
            REDIS_URL=redis_server.url,
            S3_ENDPOINT=s3_server.endpoint,
            S3_ACCESS_KEY=s3_server.access_key,
            S3_SECRET_KEY=s3_server.secret_key,
            S3_REGION=s3_server.region,
            S3_BUCKET=BUCKET,
            PASSAGES_QUEUE_PREFIX=f"outage-{uuid.uuid4().hex[:8]}",
        )
        try:
            from tests.conftest import create_user_now, issue_token_now

            with app.app_context():
                create_user_now("teacher@example.org", "contributor")
                token = issue_token_now("teacher@example.org")
            server = Gunicorn(app, tmp_path / "gunicorn.log")
            visitor = Visitor(server.base, token)
            s3 = Minio(
                s3_server.endpoint,
                access_key=s3_server.access_key,
                secret_key=s3_server.secret_key,
                secure=False,
                region=s3_server.region,
            )

            # Before: everything works.
            assert visitor.readyz()[0] == 200
            assert visitor.submit_api()[0] == 202
            assert visitor.submit_form()[0] == 303
            assert _stories(app) == 2 and len(_objects(s3)) == 2

            # S3 stops: outages, said as such, and nothing stored.
            s3_server.stop()
            status, headers, body = visitor.submit_api()
            assert status == 503, body
            assert headers["Retry-After"] == "60"
            assert body["error"]["code"] == "service_unavailable"
            assert body["error"]["dependency"] == "object_store"
            status, headers, page = visitor.submit_form()
            assert status == 503
            assert headers["Retry-After"] == "60"
            assert "Le stockage des archives est momentanément indisponible." in page
            assert "Votre histoire n'a pas été enregistrée." in page
            status, headers, ready = visitor.readyz()
            assert status == 503 and headers["Retry-After"] == "60"
            assert ready["status"] == "unavailable"
            assert ready["checks"]["object_store"]["ok"] is False
            assert ready["checks"]["database"]["ok"] is True
            assert _stories(app) == 2  # nothing half-saved

            # S3 is back, empty (moto keeps nothing): the bucket is made again on the next write.
            s3_server.start()
            status, _, body = visitor.submit_api()
            assert status == 202, body
            assert visitor.submit_form()[0] == 303
            assert visitor.readyz()[0] == 200
            assert _stories(app) == 4
            assert len(_objects(s3)) == 2  # the two stored after the restart

            # The bucket is deleted behind the app's back while S3 runs.
            for key in _objects(s3):
                s3.remove_object(BUCKET, key)
            s3.remove_bucket(BUCKET)
            for _ in range(2):  # both gunicorn workers may answer; each must recover
                status, _, body = visitor.submit_api()
                assert status == 202, body
            assert s3.bucket_exists(BUCKET)
            assert len(_objects(s3)) == 2
            assert _stories(app) == 6
            assert "had disappeared and was created again" in (tmp_path / "gunicorn.log").read_text(
                errors="replace"
            )
        finally:
            if server is not None:
                server.stop()
            _dispose(app)
