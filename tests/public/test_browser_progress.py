"""Progress people can watch, in a real browser: the submission form's upload bars on a slow
connection, its checks before sending, its retry after a lost answer (stored once), and the
status and review pages that show each image's state and thumbnail without a reload.

The server is the real app in a thread (no worker: the test plays the worker's part in-process
when it wants an image to become ready); Chromium's own network throttling slows the upload.
"""

from __future__ import annotations

import io
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.conftest import PASSWORD, _dispose, build_app, create_user_now
from tests.public.test_browser_a11y import (  # noqa: F401  (the shared Chromium fixture)
    browser,
    wait_until,
)

pytestmark = pytest.mark.slow
SCREENS = Path("/work/notes/screens")


def _noisy_jpeg(width: int, height: int, seed: int) -> bytes:
    """A photograph-sized JPEG that does not compress away (random noise)."""
    from PIL import Image

    rng = random.Random(seed)
    image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.fixture(scope="module")
def live(tmp_path_factory, browser) -> Iterator[SimpleNamespace]:  # noqa: F811
    from werkzeug.serving import make_server

    app = build_app(tmp_path_factory.mktemp("progress") / "data", SERVER_NAME=None)
    with app.app_context():
        create_user_now("archivist@example.org", "archivist", PASSWORD)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(app=app, base=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=5)
        _dispose(app)


@pytest.fixture
def new_page(browser, live):  # noqa: F811
    contexts = []

    def open_page(width: int = 1280):
        context = browser.new_context(viewport={"width": width, "height": 900}, locale="fr-FR")
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def _fill(page, title: str, files: list[dict[str, Any]]) -> None:
    page.fill("#title", title)
    page.fill("#body", "Mon père cultivait des piments dans un jardin ouvrier, près du canal.")
    page.fill("#places", "Bobigny")
    page.fill("#alt_texts", "\n".join(f"Photo {n + 1} du jardin" for n in range(len(files))))
    page.check("#consent")
    page.set_input_files("#images", files)


def _stories_titled(live, title: str) -> list[Any]:
    from webapp.extensions import db
    from webapp.models import Story

    with live.app.app_context():
        return db.session.scalars(db.select(Story).where(Story.title == title)).all()


def _derive_all(live, story_id: int) -> None:
    """The image worker's part: derivatives written, each image ``ready``."""
    from webapp.extensions import db
    from webapp.media.imaging import build_derivatives
    from webapp.media.keys import derivative_key
    from webapp.models import Story
    from webapp.services import backends

    with live.app.app_context():
        store = backends.object_store()
        for media in db.session.get(Story, story_id).media:
            written = {}
            for d in build_derivatives(store.get(media.original_key)):
                key = derivative_key(media.id, d.name, d.ext)
                store.put(key, d.data, content_type=d.mime)
                written[d.name] = {"key": key, "mime": d.mime, "width": d.width,
                                   "height": d.height, "bytes": len(d.data)}  # fmt: skip
            media.derivatives = written
            media.state = "ready"
        db.session.commit()


@pytest.mark.parametrize("width", [360, 1280])
def test_upload_bars_move_per_file_and_overall_on_a_slow_connection(new_page, live, width):
    page = new_page(width)
    page.goto(live.base + "/submit")
    title = f"Le jardin ouvrier ({width})"
    files = [
        {"name": f"jardin-{n}.jpg", "mimeType": "image/jpeg", "buffer": _noisy_jpeg(420, 300, n)}
        for n in range(2)
    ]
    _fill(page, title, files)
    listed = page.locator(".upload-files li")
    assert listed.count() == 2 and "jardin-0.jpg" in listed.first.inner_text()
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 20,
             "downloadThroughput": -1, "uploadThroughput": 120 * 1024})  # fmt: skip
    page.click("form.submit button[type=submit]")
    seen: list[dict[str, Any]] = []
    shot = False
    deadline = time.monotonic() + 60
    while "/status/" not in page.url and time.monotonic() < deadline:
        try:
            state = page.evaluate(
                """() => ({overall: document.querySelector('#upload-overall').value,
                           files: [...document.querySelectorAll('.upload-files progress')]
                                  .map(p => p.value),
                           status: document.querySelector('.upload-status').textContent})"""
            )
        except Exception:  # the page is navigating to the status page
            break
        seen.append(state)
        if not shot and 30 <= state["overall"] <= 80:
            SCREENS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENS / f"submit-progress-{width}.png"), full_page=True)
            shot = True
        time.sleep(0.1)
    page.wait_for_url("**/status/**", timeout=30000)
    between = [s for s in seen if 0 < s["overall"] < 100]
    assert len({s["overall"] for s in between}) >= 3, f"the overall bar did not move: {seen}"
    first_moves = [s for s in seen if 0 < s["files"][0] < 100]
    assert first_moves and all(s["files"][1] == 0 for s in first_moves[:1]), seen
    assert any("Envoi" in s["status"] and "Mo" in s["status"] for s in seen)
    assert len(_stories_titled(live, title)) == 1


def test_files_are_checked_before_anything_is_sent(new_page, live):
    page = new_page(360)
    page.goto(live.base + "/submit")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    _fill(page, "Un PDF par erreur", [
        {"name": "attestation.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 ..."},
    ])  # fmt: skip
    alert = page.locator(".upload-errors")
    assert alert.is_visible()
    assert "« attestation.pdf » n’est pas une image acceptée ici" in alert.inner_text()
    page.click("form.submit button[type=submit]")
    page.wait_for_timeout(500)
    assert posts == [] and "/submit" in page.url
    assert _stories_titled(live, "Un PDF par erreur") == []


def test_a_lost_answer_gets_a_retry_button_and_the_story_is_stored_once(new_page, live):
    page = new_page(360)
    page.goto(live.base + "/submit")
    title = "Le marché perdu en route"
    files = [{"name": "marche.jpg", "mimeType": "image/jpeg", "buffer": _noisy_jpeg(300, 200, 7)}]
    _fill(page, title, files)
    attempts: list[int] = []

    def lose_the_answer(route):
        attempts.append(1)
        route.fetch(max_redirects=0)  # the server receives and stores the story…
        route.abort("connectionreset")  # …and the answer never reaches the phone

    page.route("**/submit", lambda route: lose_the_answer(route)
               if route.request.method == "POST" else route.continue_())  # fmt: skip
    retry = page.locator("button.upload-retry")
    assert retry.is_hidden()  # until something goes wrong (checked before sending: the lost
    # answer can arrive while the click is still being reported back to the test)
    page.click("form.submit button[type=submit]")
    retry.wait_for(state="visible", timeout=15000)
    assert "ne sera pas enregistrée deux fois" in page.locator(".upload-errors").inner_text()
    assert page.evaluate("document.activeElement.className") == "upload-retry"
    assert len(_stories_titled(live, title)) == 1
    page.screenshot(path=str(SCREENS / "submit-retry-360.png"), full_page=True)
    page.unroute("**/submit")
    retry.click()
    page.wait_for_url("**/status/**", timeout=15000)
    assert attempts == [1]
    stored = _stories_titled(live, title)
    assert len(stored) == 1, "the retry stored the story a second time"
    assert stored[0].status_token in page.url


@pytest.mark.parametrize("width", [360, 1280])
def test_status_and_review_pages_show_thumbnails_as_soon_as_they_exist(new_page, live, width):
    from tests.conftest import story_metadata, submit_story_now
    from webapp.extensions import db
    from webapp.models import Story
    from webapp.services.submissions import IncomingImage

    with live.app.app_context():
        story = submit_story_now(
            story_metadata(title=f"Les piments de Bobigny ({width})",
                           alt_texts=["Les piments au soleil", "Le canal de l'Ourcq"]),
            [IncomingImage("piments.jpg", io.BytesIO(_noisy_jpeg(640, 480, 1))),
             IncomingImage("canal.jpg", io.BytesIO(_noisy_jpeg(480, 640, 2)))],
            submitter=None,
        )  # fmt: skip
        story_id, token = story.id, story.status_token
        db.session.get(Story, story_id).quarantined = False
        db.session.commit()

    status = new_page(width)
    status.goto(f"{live.base}/status/{token}")
    assert status.locator("td[data-media-thumb] img").count() == 0
    assert "0 images prêtes sur 2" in status.locator("[data-media-summary]").inner_text()

    review = new_page(width)
    review.goto(live.base + "/login")
    review.fill("#email", "archivist@example.org")
    review.fill("#password", PASSWORD)
    review.click("main form button[type=submit]")
    review.goto(f"{live.base}/moderation/stories/{story_id}")
    assert review.locator(".review-media figure img").count() == 0
    loads: list[str] = []
    status.on("load", lambda: loads.append(status.url))

    _derive_all(live, story_id)

    status.locator("td[data-media-thumb] img").nth(1).wait_for(timeout=20000)
    assert status.locator("td[data-media-thumb] img").first.get_attribute("alt") == (
        "Les piments au soleil"
    )
    wait_until(
        status,
        "document.querySelector('[data-media-summary]').textContent.includes('2 prêtes sur 2')",
    )
    assert [t.inner_text() for t in status.locator("td[data-media-state]").all()] == [
        "prête", "prête"]  # fmt: skip
    assert loads == [], "the status page reloaded"
    status.screenshot(path=str(SCREENS / f"status-live-{width}.png"), full_page=True)

    review.locator(".review-media figure img").nth(1).wait_for(timeout=20000)
    assert review.locator(".review-media [data-while-pending]").count() == 0
    review.screenshot(path=str(SCREENS / f"review-{width}.png"), full_page=True)
