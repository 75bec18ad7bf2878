"""Warm the search index as a web process starts, so that its first search answers quickly.

Opening a large index and decoding its per-document columns (facets, status, field lengths) takes
about a second at 100,000 stories; done in a background thread at start-up, the first visitor's
search finds it done (or waits only for what is left). A failure here is logged and forgotten:
the first search then opens the index itself and reports any error as usual.
"""

from __future__ import annotations

import logging
import threading  # noqa: TC003 - the returned thread's type

from flask import Flask

log = logging.getLogger(__name__)


def start(app: Flask) -> threading.Thread | None:
    """Start warming ``app``'s search index in a daemon thread; returns the thread.

    The process's :class:`SearchIndex` is created here, before the thread starts (it is cheap),
    so that the first request finds the very instance being warmed rather than making its own.
    """
    from webapp.services import backends

    try:
        with app.app_context():
            index = backends.search_index()
    except Exception:  # noqa: BLE001 - never fatal: the first search opens the index itself
        log.warning("search index not opened for warm-up", exc_info=True)
        return None

    try:
        return index.warm_up_in_background()
    except Exception:  # noqa: BLE001 - never fatal: the first search opens the index itself
        log.warning("search index warm-up not started", exc_info=True)
        return None
