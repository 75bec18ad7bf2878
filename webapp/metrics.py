"""``/metrics``: Passages' figures in Prometheus' text format, for the people who run it.

Two kinds of figures. **Requests** (count by route, method and status; latency by route) are
counted by this process as it answers them; the route label is the URL rule
(``/stories/<int:story_id>``), never the raw path, so a crawler cannot make the label set grow
without bound. **Everything else** is read at scrape time from where the truth already is, so
any web node answers the same: queue lengths per RQ registry, job durations and failures
(:mod:`webapp.job_metrics`, written by the work horses into Redis), the outbox backlog and its
oldest event's age, failed images, and the reconciler's last findings (written into Redis by
``workers.reconcile``). A source that cannot be read is reported as
``passages_metrics_source_up{source=...} 0`` and its figures left out: a scrape never fails
because Redis is down, and never shows a zero that is not one.

Several processes: under gunicorn each worker process counts its own requests; a scrape reaches
one of them at random, so plain per-process counters would jump around. Set
``PROMETHEUS_MULTIPROC_DIR`` (an empty folder, wiped at each start) in the web server's
environment and prometheus-client's multiprocess mode adds up every process's counts at scrape
time. Without it (``passages run``, one process) the process's own counters are served.

Access: not public (the figures say how busy the archive is and what fails). With
``PASSAGES_METRICS_TOKEN`` set, a scrape must send ``Authorization: Bearer <token>``; without
it, only a request from this machine that did not come through a proxy is answered.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Iterator

import redis
from flask import Blueprint, Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.utils import floatToGoString
from sqlalchemy.exc import SQLAlchemyError

from webapp import job_metrics
from webapp.services import backends

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)

#: Created once per process and registered in no global registry: each scrape builds its own
#: registry (:func:`_registry`), which is what the multiprocess mode needs too.
REQUESTS = Counter(
    "passages_http_requests",
    "HTTP requests answered, by route (the URL rule, not the path), method and status.",
    ["route", "method", "status"],
    registry=None,
)
LATENCY = Histogram(
    "passages_http_request_duration_seconds",
    "Time to answer an HTTP request, by route and method.",
    ["route", "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=None,
)

#: Route label of requests that matched no URL rule (404s for any path: one label, not many).
UNMATCHED = "<unmatched>"
LOOPBACK = frozenset({"127.0.0.1", "::1"})
#: Headers a reverse proxy adds: a request carrying one came from elsewhere, whatever its address.
PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def init_app(app: Flask) -> None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:  # prometheus-client writes there at the first count; a missing folder would fail
        os.makedirs(folder, exist_ok=True)
    app.before_request(_start_timer)
    app.after_request(_count_request)
    app.register_blueprint(bp)


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _count_request(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    rule = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    try:
        REQUESTS.labels(rule, request.method, str(response.status_code)).inc()
        if started is not None:
            LATENCY.labels(rule, request.method).observe(time.perf_counter() - started)
    except OSError:  # the multiprocess folder went away or is full: never fail the answer
        log.warning("metrics: could not count a request", exc_info=True)
    return response


def _allowed() -> bool:
    token = backends.settings().metrics_token
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        )
    proxied = any(header in request.headers for header in PROXY_HEADERS)
    return request.remote_addr in LOOPBACK and not proxied


@bp.get("/metrics")
def metrics() -> Response:
    if not _allowed():
        if backends.settings().metrics_token:
            return Response(
                "a valid bearer token is needed (PASSAGES_METRICS_TOKEN)\n",
                status=401,
                mimetype="text/plain",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        return Response(
            "metrics are served to this machine only; set PASSAGES_METRICS_TOKEN to scrape "
            "from elsewhere\n",
            status=403,
            mimetype="text/plain",
        )
    response = Response(generate_latest(_registry()), content_type=CONTENT_TYPE_PLAIN_0_0_4)
    response.headers["Cache-Control"] = "no-store"
    return response


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(ArchiveCollector())
    return registry


class ArchiveCollector:
    """Figures read from Redis and the database at scrape time (see the module docstring)."""

    def collect(self) -> Iterator[Metric]:
        from webapp.operations import jobs

        up = GaugeMetricFamily(
            "passages_metrics_source_up",
            "Whether this scrape could read the source (1) or not (0); its figures are absent.",
            labels=["source"],
        )
        try:
            figures = list(self._from_redis(jobs))
        except (jobs.QueuesUnavailable, redis.RedisError, OSError) as exc:
            log.warning("metrics: Redis cannot be read: %s", exc)
            up.add_metric(["redis"], 0)
        else:
            up.add_metric(["redis"], 1)
            yield from figures
        try:
            figures = list(self._from_database(jobs))
        except SQLAlchemyError as exc:
            log.warning("metrics: the database cannot be read: %s", exc)
            up.add_metric(["database"], 0)
        else:
            up.add_metric(["database"], 1)
            yield from figures
        yield up

    def _from_redis(self, jobs) -> Iterator[Metric]:
        queued = GaugeMetricFamily(
            "passages_queue_jobs",
            "Jobs per queue and RQ registry (queued, deferred, scheduled, started, failed).",
            labels=["queue", "registry"],
        )
        for purpose, registries in jobs.registry_counts().items():
            for name, count in registries.items():
                queued.add_metric([purpose, name], count)
        yield queued

        connection = backends.redis_connection()
        prefix = backends.settings().queue_prefix
        durations = HistogramMetricFamily(
            "passages_job_duration_seconds",
            "Time background jobs took, by job function (every outcome).",
            labels=["function"],
        )
        failures = CounterMetricFamily(
            "passages_job_failures",
            "Failed runs of background jobs, by job function (retried or not).",
            labels=["function"],
        )
        for function, values in sorted(job_metrics.read(connection, prefix).items()):
            count = values.get("count", 0.0)
            if count:
                buckets = [
                    (floatToGoString(bound), values.get(f"le|{bound}", 0.0))
                    for bound in job_metrics.BUCKETS
                ]
                durations.add_metric(
                    [function], buckets + [("+Inf", count)], sum_value=values.get("sum", 0.0)
                )
            failures.add_metric([function], values.get("failures", 0.0))
        yield durations
        yield failures

        yield from self._reconciler(jobs.reconciler_figures())

    def _reconciler(self, stats: dict[str, float]) -> Iterator[Metric]:
        if not stats:
            return  # no pass has run yet: no figure rather than a made-up zero
        found = GaugeMetricFamily(
            "passages_reconciler_stuck",
            "What the reconciler's last pass found stuck and handed in again, by kind.",
            labels=["kind"],
        )
        total = CounterMetricFamily(
            "passages_reconciler_found",
            "Everything the reconciler has found stuck since Redis was set up, by kind.",
            labels=["kind"],
        )
        for kind in ("stuck_media", "stale_index", "unfinished_erasures"):
            found.add_metric([kind], stats.get(kind, 0.0))
            total.add_metric([kind], stats.get(f"{kind}_total", 0.0))
        yield found
        yield total
        yield GaugeMetricFamily(
            "passages_reconciler_last_run_timestamp_seconds",
            "When the reconciler's last pass ended (Unix time).",
            value=stats.get("last_run", 0.0),
        )

    def _from_database(self, jobs) -> Iterator[Metric]:
        backlog = jobs.outbox_backlog(error_limit=0)
        yield GaugeMetricFamily(
            "passages_outbox_unrelayed_events",
            "Events committed but not yet handed to the queues.",
            value=backlog.unrelayed,
        )
        yield GaugeMetricFamily(
            "passages_outbox_oldest_unrelayed_age_seconds",
            "Age of the oldest event still waiting for the relay (0 when none waits).",
            value=backlog.oldest_age_seconds(),
        )
        yield GaugeMetricFamily(
            "passages_outbox_events_with_errors",
            "Waiting events whose last relay attempt failed (Redis unreachable).",
            value=jobs.relay_error_count(),
        )
        yield GaugeMetricFamily(
            "passages_media_failed",
            "Images whose derivation failed for good (see /admin/jobs).",
            value=jobs.failed_media_count(),
        )
