"""In a real browser, the jobs page follows a rebuild of the search index without reloading
(its bar and its percentage move), then shows its end once it ended."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import PASSWORD, _dispose, build_app, create_user_now
from tests.public.test_browser_a11y import (  # noqa: F401  (the shared Chromium fixture)
    browser,
    wait_until,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def served(tmp_path, redis_server, browser) -> Iterator[tuple[Any, str]]:  # noqa: F811
    from werkzeug.serving import make_server

    app = build_app(tmp_path / "data", SERVER_NAME=None, REDIS_URL=redis_server.url)
    with app.app_context():
        create_user_now("admin@example.org", "admin", PASSWORD)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        _dispose(app)


def test_the_jobs_page_follows_a_reindex_live(served, browser, monkeypatch) -> None:  # noqa: F811
    from webapp.operations import long_jobs

    app, base = served
    monkeypatch.setattr(long_jobs, "REPORT_EVERY", 0.0)
    with app.app_context():
        stories = long_jobs.counting(iter(range(20)), 20)
        for _ in range(10):
            next(stories)  # 9 of 20 recorded

    page = browser.new_page()
    page.goto(base + "/login")
    page.fill("#email", "admin@example.org")
    page.fill("#password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state("load")
    page.goto(base + "/admin/jobs/")
    row = page.locator('tr[data-job="reindex"]')
    assert row.locator("[data-job-percent]").inner_text() == "45 %"
    page.evaluate("window.notReloaded = true")

    with app.app_context():
        for _ in range(9):
            next(stories)  # 18 of 20
    row.locator("[data-job-percent]", has_text="90 %").wait_for(timeout=10_000)
    assert page.evaluate("window.notReloaded") is True  # followed without reloading
    assert row.locator("progress").evaluate("bar => [bar.value, bar.max]") == [18, 20]

    with app.app_context():
        list(stories)
        long_jobs.reindex_ended(20)
    wait_until(page, "window.notReloaded === undefined", seconds=10)
    page.wait_for_load_state("load")
    ended = page.locator('tr[data-job="reindex"]')
    assert "terminé" in ended.inner_text() and "100 %" in ended.inner_text()
    page.close()
