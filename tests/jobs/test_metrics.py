"""``/metrics``: requests, queues, job failures, the outbox and the reconciler, for Prometheus."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import _dispose, build_app
from tests.jobs.conftest import fail_an_image_job
from tests.ops.conftest import add_story


def _scrape(client, **options) -> dict[tuple[str, tuple], float]:
    """(sample name, sorted labels) → value, parsed the way Prometheus parses it."""
    response = client.get("/metrics", **options)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return _parse(response.get_data(as_text=True))


def _parse(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_a_request_a_failed_job_and_unrelayed_events_show_up(redis_app, token_on) -> None:
    failed = fail_an_image_job(redis_app, token_on)
    client = redis_app.test_client()
    route = "/api/v1/stories/<int:story_id>"
    before = _scrape(client)

    assert client.get("/api/v1/stories/987654").status_code == 404
    assert client.get("/api/v1/stories/987655").status_code == 404
    client.get("/no/such/page/12345")
    after = _scrape(client)

    requests = "passages_http_requests_total"
    delta = (_value(after, requests, route=route, method="GET", status="404") or 0) - (
        _value(before, requests, route=route, method="GET", status="404") or 0
    )
    assert delta == 2  # two paths, one route: the label is the URL rule
    assert _value(after, requests, route="<unmatched>", method="GET", status="404") >= 1
    assert not any("987654" in str(labels) or "12345" in str(labels) for _, labels in after)
    latency = "passages_http_request_duration_seconds_count"
    assert _value(after, latency, route=route, method="GET") >= 2
    # The failed job: in the failed registry, counted as a failure, and its duration recorded.
    assert _value(after, "passages_queue_jobs", queue="images", registry="failed") == 1
    assert _value(after, "passages_queue_jobs", queue="search", registry="queued") == 0
    derive = "workers.images.derive_media"
    assert _value(after, "passages_job_failures_total", function=derive) == 1
    assert _value(after, "passages_job_duration_seconds_count", function=derive) == 1
    assert _value(after, "passages_job_duration_seconds_bucket", function=derive, le="+Inf") == 1
    # No relay ran: the story's event and the failure's event wait in the outbox.
    assert _value(after, "passages_outbox_unrelayed_events") == 2
    assert _value(after, "passages_outbox_oldest_unrelayed_age_seconds") >= 0
    assert _value(after, "passages_media_failed") == 1
    assert _value(after, "passages_metrics_source_up", source="redis") == 1
    assert _value(after, "passages_metrics_source_up", source="database") == 1
    assert failed.job_id not in str(after)  # job ids are not labels

    from workers.relay import relay_once

    with redis_app.app_context():
        while relay_once():
            pass
    relayed = _scrape(client)
    assert _value(relayed, "passages_outbox_unrelayed_events") == 0
    assert _value(relayed, "passages_outbox_oldest_unrelayed_age_seconds") == 0


def test_what_the_reconciler_found_stuck_shows_up(redis_app, token_on) -> None:
    from webapp.services import backends
    from workers import reconcile
    from workers.relay import relay_once

    client = redis_app.test_client()
    assert _value(_scrape(client), "passages_reconciler_stuck", kind="stuck_media") is None
    add_story(redis_app, token_on, 7, 8)
    with redis_app.app_context():
        while relay_once():
            pass
        for purpose in ("images", "search"):
            backends.queue(purpose).empty()  # Redis lost the jobs after the relay
        assert reconcile.reconcile(0).media_count == 2

    samples = _scrape(client)

    assert _value(samples, "passages_reconciler_stuck", kind="stuck_media") == 2
    assert _value(samples, "passages_reconciler_stuck", kind="stale_index") == 1
    assert _value(samples, "passages_reconciler_found_total", kind="stuck_media") == 2
    assert _value(samples, "passages_reconciler_last_run_timestamp_seconds") > 0
    # Admins read the same on the jobs page.
    from tests.conftest import PASSWORD, create_user_now

    with redis_app.app_context():
        create_user_now("admin@example.org", "admin", PASSWORD)
    admin = redis_app.test_client()
    admin.post("/login", data={"email": "admin@example.org", "password": PASSWORD})
    page = admin.get("/admin/jobs/").get_data(as_text=True)
    assert "2 image(s), 1 entrée(s) de l’index de recherche et 0 effacement(s)" in page


def test_metrics_are_not_public(redis_app, tmp_path, redis_server) -> None:
    client = redis_app.test_client()
    elsewhere = {"environ_base": {"REMOTE_ADDR": "203.0.113.7"}}

    assert client.get("/metrics").status_code == 200  # this machine, no proxy
    refused = client.get("/metrics", **elsewhere)
    assert refused.status_code == 403 and b"PASSAGES_METRICS_TOKEN" in refused.data
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
    assert proxied.status_code == 403  # a proxy on this machine does not make it local

    app = build_app(
        tmp_path / "tokened", REDIS_URL=redis_server.url, PASSAGES_METRICS_TOKEN="s3cret-scrape"
    )
    try:
        tokened = app.test_client()
        assert tokened.get("/metrics").status_code == 401  # even from loopback
        wrong = tokened.get("/metrics", headers={"Authorization": "Bearer nope"}, **elsewhere)
        assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
        right = {"Authorization": "Bearer s3cret-scrape"}
        samples = _scrape(tokened, headers=right, **elsewhere)
        assert _value(samples, "passages_metrics_source_up", source="redis") == 1
    finally:
        _dispose(app)


def test_a_scrape_with_redis_down_says_so_and_still_answers(tmp_path) -> None:
    from tests.service_processes import free_port

    app = build_app(tmp_path / "data", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    try:
        samples = _scrape(app.test_client())
    finally:
        _dispose(app)

    assert _value(samples, "passages_metrics_source_up", source="redis") == 0
    assert _value(samples, "passages_metrics_source_up", source="database") == 1
    assert _value(samples, "passages_outbox_unrelayed_events") == 0
    assert not any(name == "passages_queue_jobs" for name, _ in samples)  # no made-up zeros


@pytest.mark.slow
def test_request_counts_add_up_over_several_gunicorn_workers(
    redis_app, tmp_path, monkeypatch
) -> None:
    """With PROMETHEUS_MULTIPROC_DIR every scrape sees every worker's requests."""
    from tests.faults.gunicorn_process import Gunicorn

    folder = tmp_path / "prometheus"  # not created: the app creates it rather than failing
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))  # inherited by gunicorn
    server = Gunicorn(redis_app, tmp_path / "gunicorn.log", workers=3)
    try:

        def healthz_count() -> float:
            with urllib.request.urlopen(server.base + "/metrics", timeout=10) as response:
                samples = _parse(response.read().decode())
            labels = {"route": "/healthz", "method": "GET", "status": "200"}
            return _value(samples, "passages_http_requests_total", **labels) or 0

        first = healthz_count()
        for _ in range(30):
            urllib.request.urlopen(server.base + "/healthz", timeout=10).read()
        counts = [healthz_count() for _ in range(6)]  # each scrape may reach another worker
    finally:
        server.stop()

    # Every scrape sees the same total, whichever worker answers it. One more than 30 is
    # allowed: the launcher's own readiness probe, if its client gave up waiting, can still be
    # answered (and counted) after the first scrape. A worker's requests missing from the total
    # would leave it near 10 or 20.
    assert len(set(counts)) == 1, counts
    assert first + 30 <= counts[0] <= first + 31, (first, counts)
