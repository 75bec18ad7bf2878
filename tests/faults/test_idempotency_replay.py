"""A client that retries with its Idempotency-Key gets one story, whatever happened in between.

Real processes: gunicorn (2 processes × 4 threads) on PostgreSQL. The first request's answer is
lost (the server is SIGKILLed right after it committed, before the client read the answer), the
server comes back, and the client retries the same request with the same key — concurrently from
several connections, as an impatient client library would.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest

from tests.conftest import _dispose, build_app, make_jpeg, story_metadata
from tests.faults.gunicorn_process import Gunicorn
from tests.faults.test_killed_request_leftovers import _multipart

pytestmark = pytest.mark.slow


def _post(base: str, token: str, body: bytes, content_type: str, key: str):
    request = urllib.request.Request(
        base + "/api/v1/stories",
        data=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": content_type,
            "Idempotency-Key": key,
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


def test_replayed_key_after_a_lost_answer_gives_one_story(tmp_path, postgres_url):
    app = build_app(tmp_path / "data", DATABASE_URL=postgres_url)
    server = None
    try:
        from tests.conftest import create_user_now
        from webapp.extensions import db
        from webapp.models import ApiToken, Story, User

        with app.app_context():
            user, _ = create_user_now("c@example.org", "contributor", "long-password-1")
            row, token = ApiToken.issue(db.session.get(User, user.id), "test")
            db.session.add(row)
            db.session.commit()
        body, content_type = _multipart(story_metadata(), make_jpeg(seed=51))
        server = Gunicorn(app, tmp_path / "gunicorn.log")
        first_status, first, _ = _post(server.base, token, body, content_type, "lost-answer")
        server.kill()  # the client never learns the answer above (it could have been lost)
        server = Gunicorn(app, tmp_path / "gunicorn.log")

        answers = []
        threads = [
            threading.Thread(
                target=lambda: answers.append(
                    _post(server.base, token, body, content_type, "lost-answer")
                )
            )
            for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        other_status, other, _ = _post(
            server.base,
            token,
            *_multipart(story_metadata(title="Autre"), make_jpeg(seed=51)),
            "lost-answer",
        )

        assert first_status == 202
        assert [status for status, _, _ in answers] == [202] * 6
        assert all(answer == first for _, answer, _ in answers)
        assert all(headers.get("Idempotent-Replayed") == "true" for _, _, headers in answers)
        assert other_status == 422 and other["error"]["code"] == "idempotency_key_reused"
        with app.app_context():
            assert db.session.scalar(db.select(db.func.count(Story.id))) == 1
    finally:
        if server is not None:
            server.stop()
        _dispose(app)
