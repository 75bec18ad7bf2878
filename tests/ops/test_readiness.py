"""``/readyz`` says, per dependency, whether this web process can work now; ``/healthz`` only
says it is alive. Every failure here is a real one: refused ports, an unusable folder, a server
socket that accepts and never answers.
"""

from __future__ import annotations

import shutil
import socket
import time

import pytest

from tests.conftest import _dispose, build_app
from tests.service_processes import free_port

DEPENDENCIES = {"database", "redis", "object_store", "index"}


@pytest.fixture
def ready_app(tmp_path, redis_server):
    """An app whose every dependency is up: SQLite, a real redis-server, a local folder."""
    app = build_app(tmp_path / "data", REDIS_URL=redis_server.url)
    yield app
    _dispose(app)


def test_all_dependencies_up_is_ready_with_each_check_timed(ready_app):
    response = ready_app.test_client().get("/readyz")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "Retry-After" not in response.headers
    body = response.get_json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == DEPENDENCIES
    for name, check in body["checks"].items():
        assert check["ok"] is True, name
        assert isinstance(check["latency_ms"], int | float) and check["latency_ms"] >= 0
        assert "error" not in check
    assert body["checks"]["database"]["required"] is True
    assert body["checks"]["object_store"]["required"] is True


def test_an_unusable_object_store_makes_the_process_unavailable(ready_app):
    root = ready_app.extensions["passages.settings"].data_dir / "objects"
    shutil.rmtree(root, ignore_errors=True)
    root.write_bytes(b"a file where the folder should be")

    response = ready_app.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "60"
    body = response.get_json()
    assert body["status"] == "unavailable"
    store = body["checks"]["object_store"]
    assert store["ok"] is False and store["required"] is True
    assert "object store" in store["error"]
    assert body["checks"]["database"]["ok"] is True

    root.unlink()  # the operator fixes the disk: ready again, nothing cached
    assert ready_app.test_client().get("/readyz").status_code == 200


def test_redis_down_is_reported_but_the_site_stays_ready(tmp_path):
    """Submissions do not need Redis (the outbox keeps their events): no reason to stop traffic."""
    app = build_app(tmp_path / "data", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    try:
        response = app.test_client().get("/readyz")
    finally:
        _dispose(app)

    assert response.status_code == 200
    redis_check = response.get_json()["checks"]["redis"]
    assert redis_check["ok"] is False and redis_check["required"] is False
    assert redis_check["error"] == "Redis cannot be reached (ConnectionError)"


def test_answers_carry_no_secret_no_address_and_no_traceback(tmp_path):
    from webapp import create_app

    app = create_app(
        {
            "PASSAGES_DATA_DIR": str(tmp_path / "data"),
            "DATABASE_URL": f"postgresql+psycopg://archivist:pg-pass-123@127.0.0.1:{free_port()}/p",
            "REDIS_URL": f"redis://:redis-pass-456@127.0.0.1:{free_port()}/0",
            "S3_ENDPOINT": f"127.0.0.1:{free_port()}",
            "S3_ACCESS_KEY": "access-789",
            "S3_SECRET_KEY": "s3-secret-000",
            "SECRET_KEY": "flask-secret-111",
            "TESTING": True,
            "SERVER_NAME": "passages.test",
            "RATE_LIMITS_ENABLED": "false",
        }
    )

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    body = response.get_json()
    assert {name for name, c in body["checks"].items() if not c["ok"]} >= {
        "database",
        "redis",
        "object_store",
    }
    text = response.get_data(as_text=True)
    for secret in ("pg-pass-123", "redis-pass-456", "access-789", "s3-secret-000", "flask-secret"):
        assert secret not in text
    assert "127.0.0.1" not in text and "://" not in text and "Traceback" not in text


def test_a_dependency_that_never_answers_cannot_hang_the_check(tmp_path):
    """An S3 server that accepts connections and then says nothing (frozen, firewalled)."""
    from webapp.services import readiness

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    app = build_app(
        tmp_path / "data",
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        S3_ENDPOINT=f"127.0.0.1:{silent.getsockname()[1]}",
        S3_ACCESS_KEY="k",
        S3_SECRET_KEY="s",
    )
    try:
        started = time.monotonic()
        answer = readiness.check(app, timeout=0.5)
        elapsed = time.monotonic() - started
        again = readiness.check(app, timeout=0.2)  # the first probe is waited on, not restarted
    finally:
        silent.close()
        _dispose(app)

    assert elapsed < 1.5
    assert not answer.ready
    assert answer.checks["object_store"].error == (
        "the object store cannot be reached or written: no answer within 0.5 s"
    )
    assert answer.checks["database"].ok
    assert not again.checks["object_store"].ok


def test_liveness_asks_no_other_service(tmp_path):
    from webapp import create_app

    app = create_app(
        {
            "PASSAGES_DATA_DIR": str(tmp_path / "data"),
            "DATABASE_URL": f"postgresql+psycopg://u:p@127.0.0.1:{free_port()}/p",
            "REDIS_URL": "",
            "S3_ENDPOINT": "",
            "SECRET_KEY": "s",
            "TESTING": True,
        }
    )
    client = app.test_client()

    assert client.get("/healthz").status_code == 200
    assert client.get("/healthz").text == "ok\n"
    assert client.get("/readyz").get_json()["checks"]["database"]["ok"] is False


def test_the_container_probe_passes_trusted_hosts_when_the_docs_say_how(tmp_path, redis_server):
    """docs/deploy.md: with TRUSTED_HOSTS set, add 127.0.0.1 so the health check gets through."""
    strict = build_app(
        tmp_path / "a", REDIS_URL=redis_server.url, TRUSTED_HOSTS="archive.example.fr"
    )
    listed = build_app(
        tmp_path / "b", REDIS_URL=redis_server.url, TRUSTED_HOSTS="archive.example.fr,127.0.0.1"
    )
    try:
        refused = strict.test_client().get("/readyz", base_url="http://127.0.0.1:8000")
        allowed = listed.test_client().get("/readyz", base_url="http://127.0.0.1:8000")
    finally:
        _dispose(strict)
        _dispose(listed)

    assert refused.status_code == 400
    assert allowed.status_code == 200
