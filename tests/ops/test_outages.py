"""Outages are not bugs: a service that does not answer gives 503 with Retry-After, not a 500.

Each outage here is real, not a stub: an object folder the store cannot write into, a
PostgreSQL address where nothing listens, a Redis port that refuses connections, an S3 bucket
deleted behind the app's back. A fault of the request or a bug still answers 4xx or 500.
"""

from __future__ import annotations

import io
import logging
import shutil
from pathlib import Path

from tests.conftest import _dispose, build_app, make_jpeg, story_metadata, submit_story_via_api
from tests.service_processes import free_port


def _break_object_folder(app) -> Path:
    """Put a plain file where the object folder should be: nothing can be written there."""
    root = app.extensions["passages.settings"].data_dir / "objects"
    shutil.rmtree(root, ignore_errors=True)
    root.write_bytes(b"not a folder")
    return root


def _story_count(app) -> int:
    from webapp.extensions import db
    from webapp.models import Story

    with app.app_context():
        return db.session.scalar(db.select(db.func.count(Story.id)))


def _form(images: list[tuple[str, bytes]]) -> dict:
    return {
        "title": "La valise bleue",
        "body": "Mon père est arrivé avec une valise bleue.",
        "language": "fr",
        "licence": "CC-BY-4.0",
        "consent": "yes",
        "alt_texts": "\n".join("une photo" for _ in images),
        "images": [(io.BytesIO(data), name) for name, data in images],
    }


def test_storage_outage_answers_the_api_with_503_retry_after_and_saves_nothing(
    app, client, contributor_token
):
    _break_object_folder(app)

    response = submit_story_via_api(
        client, contributor_token, story_metadata(), [("p.jpg", make_jpeg())]
    )

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "60"
    error = response.get_json()["error"]
    assert error["code"] == "service_unavailable"
    assert error["dependency"] == "object_store"
    assert error["retry_after"] == 60
    assert "nothing was saved" in error["message"]
    assert _story_count(app) == 0


def test_storage_outage_on_the_form_tells_the_teacher_in_their_language(app, client):
    _break_object_folder(app)

    french = client.post(
        "/submit", data=_form([("p.jpg", make_jpeg())]), content_type="multipart/form-data"
    )
    client.set_cookie("lang", "en", domain="passages.test")
    english = client.post(
        "/submit", data=_form([("p.jpg", make_jpeg())]), content_type="multipart/form-data"
    )

    assert french.status_code == english.status_code == 503
    assert french.headers["Retry-After"] == "60"
    assert "Le stockage des archives est momentanément indisponible." in french.text
    assert "Votre histoire n'a pas été enregistrée." in french.text
    assert "Merci de réessayer dans quelques minutes." in french.text
    assert "The archive's storage is unavailable for a moment." in english.text
    assert "Your story was not saved." in english.text
    assert "Traceback" not in french.text + english.text
    assert _story_count(app) == 0


def test_a_submission_failing_half_way_removes_the_original_it_had_written(
    app, client, contributor_token
):
    """The first image is stored, the second cannot be: the rollback removes the first."""
    from webapp.media.keys import original_key

    first, second = make_jpeg(seed=3), make_jpeg(seed=4)
    import hashlib

    blocked_key = original_key(hashlib.sha256(second).hexdigest())
    data = app.extensions["passages.settings"].data_dir / "objects" / "data"
    # The folder the second original goes into is a plain file: its write fails, for real.
    blocker = data.joinpath(*(part + "@" for part in blocked_key.split("/")[:-1]))
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_bytes(b"in the way")

    response = submit_story_via_api(
        client, contributor_token, story_metadata(), [("a.jpg", first), ("b.jpg", second)]
    )

    assert response.status_code == 503
    assert response.get_json()["error"]["dependency"] == "object_store"
    stored = [p for p in data.rglob("*") if p.is_file() and p != blocker]
    assert stored == [], f"a failed submission left {stored}"
    assert _story_count(app) == 0


def test_a_lost_object_folder_is_made_again_by_the_next_submission(app, client, contributor_token):
    first = submit_story_via_api(
        client, contributor_token, story_metadata(), [("a.jpg", make_jpeg(seed=5))]
    )
    assert first.status_code == 202
    shutil.rmtree(app.extensions["passages.settings"].data_dir / "objects")

    again = submit_story_via_api(
        client, contributor_token, story_metadata(), [("b.jpg", make_jpeg(seed=6))]
    )

    assert again.status_code == 202, again.get_json()
    assert client.get("/readyz").status_code == 200


def test_a_deleted_bucket_is_created_again_by_the_next_submission(tmp_path, moto_server, caplog):
    app = build_app(
        tmp_path / "data",
        S3_ENDPOINT=moto_server.endpoint,
        S3_ACCESS_KEY=moto_server.access_key,
        S3_SECRET_KEY=moto_server.secret_key,
        S3_REGION=moto_server.region,
        S3_BUCKET="lost-bucket",
    )
    try:
        from tests.conftest import create_user_now, issue_token_now
        from webapp.services import backends

        with app.app_context():
            create_user_now("s3@example.org", "contributor")
            token = issue_token_now("s3@example.org")
        client = app.test_client()
        first = submit_story_via_api(client, token, None, [("a.jpg", make_jpeg(seed=7))])
        assert first.status_code == 202
        with app.app_context():
            s3 = backends.object_store()._client
        for obj in s3.list_objects("lost-bucket", recursive=True):
            s3.remove_object("lost-bucket", obj.object_name)
        s3.remove_bucket("lost-bucket")

        with caplog.at_level(logging.ERROR, logger="storage.s3"):
            again = submit_story_via_api(client, token, None, [("b.jpg", make_jpeg(seed=8))])

        assert again.status_code == 202, again.get_json()
        assert s3.bucket_exists("lost-bucket")
        assert len(list(s3.list_objects("lost-bucket", recursive=True))) == 1
        assert "had disappeared and was created again" in caplog.text
    finally:
        _dispose(app)


def test_an_unreachable_database_answers_503_and_liveness_stays_up(tmp_path):
    from webapp import create_app

    app = create_app(
        {
            "PASSAGES_DATA_DIR": str(tmp_path / "data"),
            "DATABASE_URL": f"postgresql+psycopg://passages:db-secret@127.0.0.1:{free_port()}/x",
            "REDIS_URL": "",
            "S3_ENDPOINT": "",
            "SECRET_KEY": "test-secret",
            "TESTING": True,
            "SERVER_NAME": "passages.test",
            "RATE_LIMITS_ENABLED": "false",
        }
    )
    client = app.test_client()

    page = client.get("/")
    api = client.get("/api/v1/stories/1", headers={"Authorization": "Bearer nope"})

    assert page.status_code == 503 and page.headers["Retry-After"] == "60"
    assert "La base de données des archives est momentanément indisponible." in page.text
    assert api.status_code == 503
    assert api.get_json()["error"]["dependency"] == "database"
    assert client.get("/healthz").status_code == 200  # alive: a restart would not help
    assert "db-secret" not in page.text + api.text


def test_a_database_bug_is_still_a_500_not_an_outage(tmp_path):
    """No catch-all: a missing table is a bug (SQLite calls it an OperationalError too)."""
    from webapp import create_app

    (tmp_path / "data").mkdir()
    app = create_app(
        {
            "PASSAGES_DATA_DIR": str(tmp_path / "data"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'empty.sqlite3'}",
            "REDIS_URL": "",
            "S3_ENDPOINT": "",
            "SECRET_KEY": "test-secret",
            "TESTING": True,
            "SERVER_NAME": "passages.test",
            "RATE_LIMITS_ENABLED": "false",
        }
    )

    response = app.test_client().get("/api/v1/stories/1", headers={"Authorization": "Bearer x"})

    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    assert "Retry-After" not in response.headers


def test_submissions_succeed_and_limits_hold_while_redis_is_down(tmp_path, caplog):
    """The outbox absorbs a Redis outage; the rate limits count in memory instead of failing."""
    app = build_app(
        tmp_path / "data",
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        RATE_LIMITS_ENABLED="true",
        RATE_LIMIT_SUBMIT="2/minute",
    )
    try:
        client = app.test_client()
        with caplog.at_level(logging.WARNING):
            statuses = [
                client.post(
                    "/submit",
                    data=_form([(f"p{n}.jpg", make_jpeg(seed=20 + n))]),
                    content_type="multipart/form-data",
                ).status_code
                for n in range(3)
            ]

        assert statuses == [303, 303, 429]
        assert _story_count(app) == 2
        assert caplog.text.count("falling back to in-memory storage") == 1
        assert "Failed to rate limit" not in caplog.text
    finally:
        _dispose(app)


def test_search_outage_also_says_when_to_retry(app, client):
    """Every 503 of the API carries Retry-After, search included (the engine broken for real,
    as ``tests/search/test_failures.py`` does)."""
    from tests.search.test_failures import _break_engine

    _break_engine(app)

    response = client.get("/api/v1/search?q=valise")

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert response.get_json()["error"]["code"] == "search_unavailable"


def test_rate_limit_headers_never_stretch_an_outage_or_delay_a_success(tmp_path, redis_server):
    """Flask-Limiter puts its window's end in Retry-After on every limited route; only a 429
    may keep it. A 503 says 60 s, a 202 says nothing about waiting."""
    app = build_app(
        tmp_path / "data",
        REDIS_URL=redis_server.url,
        RATE_LIMITS_ENABLED="true",
        RATE_LIMIT_SUBMIT="5/hour",
    )
    try:
        client = app.test_client()
        accepted = client.post(
            "/submit",
            data=_form([("a.jpg", make_jpeg(seed=30))]),
            content_type="multipart/form-data",
        )
        _break_object_folder(app)
        outage = client.post(
            "/submit",
            data=_form([("b.jpg", make_jpeg(seed=31))]),
            content_type="multipart/form-data",
        )
    finally:
        _dispose(app)

    assert accepted.status_code == 303 and "Retry-After" not in accepted.headers
    assert "X-RateLimit-Remaining" in accepted.headers  # the limiter did answer (control)
    assert outage.status_code == 503 and outage.headers["Retry-After"] == "60"


def test_every_string_of_the_outage_page_is_translated():
    """Read from the template itself, so a string added to the page cannot slip by."""
    from babel.messages.extract import extract_from_file
    from babel.messages.mofile import read_mo

    from tests.conftest import REPO

    with (REPO / "webapp/translations/fr/LC_MESSAGES/messages.mo").open("rb") as catalog:
        messages = read_mo(catalog)
    translated = {m.id if isinstance(m.id, str) else m.id[0] for m in messages if m.string}
    page = REPO / "webapp/templates/unavailable.html"
    strings = [message for _, message, _, _ in extract_from_file("jinja2", str(page))]

    assert len(strings) >= 8
    assert [s for s in strings if s not in translated] == []


def test_only_connection_level_database_errors_count_as_outages(tmp_path):
    """Real errors from real engines: a locked SQLite file and a refused PostgreSQL port are
    outages; a missing table and a broken constraint are not."""
    import sqlalchemy
    from sqlalchemy import exc as sa_exc

    from webapp.errorhandlers import database_outage

    def error_of(engine, *statements: str) -> sa_exc.SQLAlchemyError:
        try:
            with engine.begin() as connection:
                for statement in statements:
                    connection.execute(sqlalchemy.text(statement))
        except sa_exc.SQLAlchemyError as error:
            return error
        raise AssertionError(f"{statements} did not fail")

    path = tmp_path / "locked.sqlite3"
    holder = sqlalchemy.create_engine(f"sqlite:///{path}").connect()
    holder.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    holder.commit()
    holder.exec_driver_sql("BEGIN EXCLUSIVE")
    impatient = sqlalchemy.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    free = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'free.sqlite3'}")
    refused = sqlalchemy.create_engine(
        f"postgresql+psycopg://u:p@127.0.0.1:{free_port()}/x", connect_args={"connect_timeout": 2}
    )
    try:
        # Another process holds the write lock; this one will not wait (busy_timeout 0).
        locked = error_of(impatient, "PRAGMA busy_timeout = 0", "INSERT INTO t VALUES (2)")
        missing_table = error_of(free, "SELECT * FROM nowhere")
        duplicate = error_of(
            free, "CREATE TABLE u (id INTEGER PRIMARY KEY)", "INSERT INTO u VALUES (1), (1)"
        )
        unreachable = error_of(refused, "SELECT 1")
    finally:
        holder.rollback()
        holder.close()

    assert database_outage(locked) and "locked" in str(locked)
    assert database_outage(unreachable)
    assert not database_outage(missing_table) and "no such table" in str(missing_table)
    assert not database_outage(duplicate)
