"""Per-process access to the object store, the search index and the queues.

Each is built once per process from the app's ``Settings`` and kept on ``app.extensions``; callers
never know which backend they hold. This module must not hold business rules.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from webapp.config import Settings

if TYPE_CHECKING:
    import redis
    from rq import Queue

    from storage import ObjectStore
    from webapp.search import SearchIndex


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL lets the web process read while a worker writes; foreign keys are off by default."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


#: Rows ANALYZE reads per index on SQLite: approximate statistics, in milliseconds whatever the
#: archive's size (https://sqlite.org/lang_analyze.html#approx).
ANALYSIS_LIMIT = 1000


def refresh_planner_statistics(connection: Connection) -> bool:
    """Give SQLite's query planner statistics about the archive (``sqlite_stat1``); ``False`` on
    PostgreSQL, whose autovacuum analyses the tables by itself.

    Without them SQLite guesses, and guesses wrong where it matters: the home page's cover
    query walked every image by ``ix_media_assets_kind`` (17 ms per collection on 2,000
    stories) instead of starting from the collection's items (0.1 ms). Run after migrations
    and by the hourly maintenance job, since the archive's shape changes as it grows. A plain
    ``PRAGMA optimize`` would not do: before SQLite 3.46 it only analyses tables the same
    connection has queried, and a maintenance connection has queried none.
    """
    if connection.dialect.name != "sqlite":
        return False
    connection.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
    connection.exec_driver_sql("ANALYZE")
    return True


def init_app(app: Flask) -> None:
    app.extensions.setdefault("passages.backends", {})


def settings() -> Settings:
    return current_app.extensions["passages.settings"]


def _cached(name: str, build):
    cache = current_app.extensions["passages.backends"]
    if name not in cache:
        cache[name] = build()
    return cache[name]


def object_store() -> ObjectStore:
    from storage import open_store

    s = settings()
    return _cached(
        "store",
        lambda: open_store(
            data_dir=s.data_dir,
            s3_endpoint=s.s3_endpoint,
            s3_access_key=s.s3_access_key,
            s3_secret_key=s.s3_secret_key,
            s3_bucket=s.s3_bucket,
            s3_secure=s.s3_secure,
            s3_region=s.s3_region,
            s3_public_endpoint=s.s3_public_endpoint,
        ),
    )


def public_object_url(key: str) -> str | None:
    """A short-lived URL browsers can fetch ``key`` from, or ``None``: then stream it.

    Only when ``S3_PUBLIC_ENDPOINT`` is set: a URL signed for the internal ``S3_ENDPOINT``
    (``minio:9000`` in the compose file) would reach no browser. It lasts ten minutes, for
    images and recordings alike: whoever holds it after a story is withdrawn can fetch the
    object that long and no longer. A player still playing when its link expires asks the
    app's address again for a new one (``static/player.js``).
    """
    if not settings().s3_public_endpoint:
        return None
    return object_store().presigned_url(key)


def search_index() -> SearchIndex:
    from webapp.search import SearchIndex

    return _cached("search", lambda: SearchIndex(settings().index_dir))


def redis_connection() -> redis.Redis:
    from webapp import broker

    return _cached("redis", lambda: broker.connect(settings()))


def queue(purpose: str) -> Queue:
    from rq import Queue

    from webapp import broker

    name = broker.queue_name(settings(), purpose)
    return _cached(f"queue:{name}", lambda: Queue(name, connection=redis_connection()))


def reset_process_state() -> None:
    """Forget connections inherited over ``fork`` (RQ runs each job in a forked work horse)."""
    from webapp.extensions import db

    cache = current_app.extensions["passages.backends"]
    for key in [k for k in cache if k == "redis" or k.startswith("queue:") or k == "search"]:
        cache.pop(key)
    db.engine.dispose(close=False)
