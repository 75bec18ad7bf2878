"""Worker entry point: an RQ worker over Passages' queues, built around the app.

RQ's stock worker is used as is: it forks a work horse per job (so a job that leaks memory or is
killed for its time limit cannot take the worker down) and retries failed jobs per their
``Retry``. The only addition is the burst loop, which alternates outbox relaying and work until
nothing is left — what tests and one-off maintenance need.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence

from flask import Flask
from rq import Worker

from webapp.services import backends
from workers import relay
from workers.context import use_app

log = logging.getLogger(__name__)

#: Queue order is priority order: index updates are quick and make a story findable, so they go
#: before image derivation, which can take seconds per photograph.
DEFAULT_PURPOSES = ("search", "images", "default")


def _worker_name() -> str:
    return f"passages-{socket.gethostname()}-{os.getpid()}"


def _build_worker(app: Flask, purposes: Sequence[str]) -> Worker:
    with app.app_context():
        connection = backends.redis_connection()
        queues = [backends.queue(p) for p in purposes]
    return Worker(queues, connection=connection, name=_worker_name())


def rebuild_index_if_outdated(app: Flask) -> bool:
    """Rebuild the search index when it was built by another index-schema version.

    Only the worker that serves the search queue calls this, so the index keeps a single writer;
    search keeps serving the old generation until the new one is swapped in.
    """
    from workers.search import rebuild_index

    with app.app_context():
        outdated = backends.search_index().needs_rebuild()
    if outdated:
        log.info("search index schema changed: rebuilding from the database")
        rebuild_index()
    return outdated


def run_worker(app: Flask, purposes: Sequence[str] = DEFAULT_PURPOSES, burst: bool = False) -> None:
    """Process jobs; in burst mode also relay the outbox until no event and no job is left."""
    use_app(app)
    if "search" in purposes:
        rebuild_index_if_outdated(app)
    if not burst:
        _build_worker(app, purposes).work(with_scheduler=True)
        return
    for _ in range(1000):  # bounded: a job that keeps emitting events cannot loop forever
        with app.app_context():
            while relay.relay_once():
                pass
        _build_worker(app, purposes).work(burst=True)
        with app.app_context():
            idle = relay.pending_count() == 0 and all(
                backends.queue(p).count == 0 for p in purposes
            )
            from webapp.extensions import db

            db.session.remove()
        if idle:
            return
    log.warning("burst worker stopped after 1000 rounds with work still arriving")
