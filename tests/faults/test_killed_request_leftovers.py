"""A request killed between storing an original and committing leaves nothing after collection.

Real processes: gunicorn serving the app on PostgreSQL, the test holding a lock on the stories
table so the submission stops after writing its original, then SIGKILL of the whole server (no
compensation can run). ``passages check`` names the leftover; ``passages collect`` removes it.
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
import urllib.request
import uuid

import pytest
import sqlalchemy

from tests.conftest import _dispose, build_app, make_jpeg, story_metadata
from tests.faults.gunicorn_process import Gunicorn
from tests.ops.conftest import run_cli

pytestmark = pytest.mark.slow


def _multipart(metadata: dict, image: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'.encode())
    out.write(json.dumps(metadata).encode())
    out.write(
        f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="images"; '
        f'filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
    )
    out.write(image + f"\r\n--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def test_killed_submission_leaves_no_leftover_after_collection(tmp_path, postgres_url):
    app = build_app(tmp_path / "data", DATABASE_URL=postgres_url)
    server = None
    try:
        from tests.conftest import create_user_now
        from webapp.extensions import db
        from webapp.models import ApiToken, User

        with app.app_context():
            user, _ = create_user_now("c@example.org", "contributor", "long-password-1")
            row, token = ApiToken.issue(db.session.get(User, user.id), "test")
            db.session.add(row)
            db.session.commit()
        server = Gunicorn(app, tmp_path / "gunicorn.log")
        objects = tmp_path / "data" / "objects" / "data" / "originals@"
        body, content_type = _multipart(story_metadata(), make_jpeg(seed=41))

        blocker = sqlalchemy.create_engine(postgres_url).connect()
        blocker.execute(sqlalchemy.text("LOCK TABLE stories IN EXCLUSIVE MODE"))

        def send() -> None:
            request = urllib.request.Request(
                server.base + "/api/v1/stories",
                data=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
                method="POST",
            )
            with contextlib.suppress(OSError):  # the server dies under this request
                urllib.request.urlopen(request, timeout=60)

        client = threading.Thread(target=send, daemon=True)
        client.start()
        deadline = time.monotonic() + 60
        while not any(objects.rglob("*")) and time.monotonic() < deadline:
            time.sleep(0.1)
        stored = [p for p in objects.rglob("*") if p.is_file()]
        assert len(stored) == 1, "the submission should have stored its original by now"
        server.kill()
        blocker.rollback()
        blocker.close()
        client.join(60)

        with app.app_context():
            assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 1
            from webapp.models import Story

            assert db.session.scalar(db.select(db.func.count(Story.id))) == 0
        no_grace = {"PASSAGES_ORPHAN_GRACE_HOURS": "0"}  # as if a day had passed
        young = run_cli(app, "check")
        found = run_cli(app, "check", env=no_grace)
        collected = run_cli(app, "collect", env=no_grace)
        after = run_cli(app, "check", env=no_grace)

        assert young.returncode == 0  # within the grace period it may be a submission in flight
        assert found.returncode == 1 and "orphan_object" in found.stdout
        assert collected.returncode == 0 and "deleted 1 object(s)" in collected.stdout
        assert after.returncode == 0, after.stdout
        assert not [p for p in objects.rglob("*") if p.is_file()]
    finally:
        if server is not None:
            server.stop()
        _dispose(app)
