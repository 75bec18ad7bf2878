"""The application context a job runs in.

RQ runs each job in a forked "work horse". The app is built once in the worker's parent process
and inherited; after a fork the child must not reuse the parent's database or Redis sockets, so
the first job in each process drops them (connections are reopened on demand).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

_app: Flask | None = None
_pid: int | None = None


def use_app(app: Flask) -> None:
    """Make ``app`` the one jobs run in (the worker command sets it before forking)."""
    global _app, _pid
    _app = app
    _pid = os.getpid()


def job_app() -> Flask:
    global _app
    if _app is None:
        from webapp import create_app

        use_app(create_app())
    assert _app is not None
    return _app


@contextmanager
def app_context() -> Iterator[Flask]:
    global _pid
    app = job_app()
    with app.app_context():
        if _pid != os.getpid():
            from webapp.services import backends

            backends.reset_process_state()
            _pid = os.getpid()
        try:
            yield app
        finally:
            from webapp.extensions import db

            db.session.remove()
