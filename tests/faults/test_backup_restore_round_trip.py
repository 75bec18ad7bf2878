"""``passages backup`` → ``passages restore`` gives back the same archive, on both shapes.

The embedded default (SQLite + local folder) and the production shape (PostgreSQL + S3, here
moto) are each backed up by the real command, restored by the real command into an empty target,
and compared: stories with their statuses, accounts, tokens, audit, originals byte for byte, and
the rebuilt search index.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, _dispose, build_app
from tests.ops.conftest import add_story, derive_all, run_cli

pytestmark = pytest.mark.slow  # several real commands, each in its own process


def _snapshot(app) -> dict:
    """What must come back identical after a restore."""
    from webapp.extensions import db
    from webapp.models import ApiToken, AuditEntry, MediaAsset, Story, User
    from webapp.services import backends

    with app.app_context():
        store = backends.object_store()
        media = db.session.scalars(db.select(MediaAsset).order_by(MediaAsset.id)).all()
        return {
            "stories": [
                (s.id, s.title, s.status, s.status_token)
                for s in db.session.scalars(db.select(Story).order_by(Story.id))
            ],
            "users": [
                (u.id, u.email, u.role, u.password_hash)
                for u in db.session.scalars(db.select(User).order_by(User.id))
            ],
            "tokens": [
                (t.id, t.user_id, t.token_sha256, t.revoked)
                for t in db.session.scalars(db.select(ApiToken).order_by(ApiToken.id))
            ],
            "audit": [
                (a.id, a.action, a.subject_type, a.subject_id)
                for a in db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id))
            ],
            "media": [(m.id, m.state, m.sha256) for m in media],
            "originals": {m.original_key: store.get(m.original_key) for m in media},
            "derivatives": {
                d["key"]: store.get(d["key"]) for m in media for d in m.derivatives.values()
            },
        }


def _round_trip(source, target, tmp_path: Path, **target_env: str) -> None:
    backup_dir = tmp_path / "backup"
    made = run_cli(source, "backup", "--out", str(backup_dir))
    assert made.returncode == 0, made.stdout + made.stderr
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert manifest["objects"] and manifest["files"]
    assert "change-me" not in (backup_dir / "settings.json").read_text()

    restored = run_cli(target, "restore", str(backup_dir), env=target_env)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "search index rebuilt: 2 stories" in restored.stdout

    again = run_cli(target, "restore", str(backup_dir), env=target_env)
    assert again.returncode != 0 and "empty target" in again.stderr


def _search_finds(app, words: str) -> list[int]:
    client = app.test_client()
    return [r["id"] for r in client.get(f"/api/v1/search?q={words}").get_json()["results"]]


def _empty_app(data_dir: Path, **env: str):
    """An app on an empty target: no tables, no objects, no secret key (nothing migrated)."""
    from webapp import create_app

    return create_app(
        {
            "PASSAGES_DATA_DIR": str(data_dir),
            "DATABASE_URL": f"sqlite:///{data_dir / 'passages.sqlite3'}",
            "REDIS_URL": "",
            "S3_ENDPOINT": "",
            "SECRET_KEY": "",
            "TESTING": True,
            "SERVER_NAME": "passages.test",
            **env,
        }
    )


def test_round_trip_on_sqlite_and_the_local_folder(app, tmp_path) -> None:
    from webapp.interop.instance import instance_id

    published, token = _fill_on(app)
    before = _snapshot(app)
    with app.app_context():
        identity = instance_id()  # its old exports must still be recognised as its own
    target = _empty_app(tmp_path / "restored")
    try:
        _round_trip(app, target, tmp_path, SECRET_KEY="")

        assert _snapshot(target) == before
        assert _search_finds(target, "Marseille") == [published]
        assert _search_finds(target, "gare") == []  # not published, not public
        assert run_cli(target, "check", "--fixity").returncode == 0
        assert (tmp_path / "restored" / "secret_key").read_text() == "test-secret"
        assert (tmp_path / "restored" / "secret_key").stat().st_mode & 0o077 == 0
        with target.app_context():
            assert instance_id() == identity
        answer = target.test_client().get(
            f"/api/v1/stories/{published}", headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 200 and answer.get_json()["status"] == "published"
    finally:
        _dispose(target)


def test_round_trip_on_postgresql_and_s3(
    tmp_path, moto_server, postgres_url, postgres_server_url
) -> None:
    import sqlalchemy

    s3 = {
        "S3_ENDPOINT": moto_server.url,
        "S3_ACCESS_KEY": moto_server.access_key,
        "S3_SECRET_KEY": moto_server.secret_key,
        "S3_REGION": moto_server.region,
    }
    source = build_app(
        tmp_path / "source", DATABASE_URL=postgres_url, S3_BUCKET="backup-source", **s3
    )
    empty_db = f"passages_t_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{empty_db}"'))
    target_url = postgres_server_url.rsplit("/", 1)[0] + "/" + empty_db
    target = None
    try:
        published, _token = _fill_on(source)
        before = _snapshot(source)
        from webapp import create_app

        target = create_app(
            {
                "PASSAGES_DATA_DIR": str(tmp_path / "target"),
                "DATABASE_URL": target_url,
                "REDIS_URL": "",
                "SECRET_KEY": "test-secret",
                "S3_BUCKET": "backup-target",
                "TESTING": True,
                "SERVER_NAME": "passages.test",
                **s3,
            }
        )
        _round_trip(source, target, tmp_path)

        assert _snapshot(target) == before
        assert _search_finds(target, "Marseille") == [published]
    finally:
        if target is not None:
            _dispose(target)
        _dispose(source)
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{empty_db}" WITH (FORCE)'))
        admin.dispose()


def _fill_on(app) -> tuple[int, str]:
    """Two stories with three images, one published; a contributor with a token; audit."""
    from tests.conftest import create_user_now
    from webapp.extensions import db
    from webapp.models import ApiToken, User
    from webapp.services import review
    from webapp.unit_of_work import unit_of_work

    with app.app_context():
        user, _ = create_user_now("c@example.org", "contributor", PASSWORD)
        row, token = ApiToken.issue(db.session.get(User, user.id), "test")
        db.session.add(row)
        db.session.commit()
    published = add_story(app, token, 31, 32, title="Le port de Marseille")
    add_story(app, token, 33, title="La gare de Lyon")
    derive_all(app)
    with app.app_context():
        archivist, _ = create_user_now("a@example.org", "archivist", PASSWORD)
        with unit_of_work() as uow:
            review.review(uow, published, "approve", None, archivist)
    return published, token
