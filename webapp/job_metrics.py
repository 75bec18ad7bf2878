"""Job figures shared by every process: durations and failures per job function, kept in Redis.

Why Redis and not ``prometheus_client`` counters in the worker: jobs run in forked work horses
that live for one job, on possibly several machines; in-process counters would die with each
horse. A small hash per deployment (``<queue prefix>:job-metrics``) is written by the horses and
read by ``/metrics`` on any web node. Recording must never make a job fail: errors are logged at
debug level and dropped.
"""

from __future__ import annotations

import logging

import redis

log = logging.getLogger(__name__)

#: Upper bounds (seconds) of the duration histogram's buckets; ``+Inf`` is implied.
BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


def key_for(prefix: str) -> str:
    return f"{prefix}:job-metrics"


def record_duration(connection: redis.Redis, prefix: str, func: str, seconds: float) -> None:
    """Count one run of ``func`` that took ``seconds`` (whatever its outcome)."""
    try:
        key = key_for(prefix)
        with connection.pipeline() as pipe:
            pipe.hincrby(key, f"{func}|count", 1)
            pipe.hincrbyfloat(key, f"{func}|sum", seconds)
            for bound in BUCKETS:
                if seconds <= bound:
                    pipe.hincrby(key, f"{func}|le|{bound}", 1)
            pipe.execute()
    except Exception:  # noqa: BLE001 - figures are never worth a failed job
        log.debug("could not record a job duration", exc_info=True)


def record_failure(connection: redis.Redis, prefix: str, func: str) -> None:
    """Count one failed run of ``func`` (retried or not)."""
    try:
        connection.hincrby(key_for(prefix), f"{func}|failures", 1)
    except Exception:  # noqa: BLE001
        log.debug("could not record a job failure", exc_info=True)


def read(connection: redis.Redis, prefix: str) -> dict[str, dict[str, float]]:
    """func → {"count", "sum", "failures", "le|<bound>"...} as numbers."""
    figures: dict[str, dict[str, float]] = {}
    for raw_field, raw_value in connection.hgetall(key_for(prefix)).items():
        func, _, name = raw_field.decode().partition("|")
        figures.setdefault(func, {})[name] = float(raw_value)
    return figures
