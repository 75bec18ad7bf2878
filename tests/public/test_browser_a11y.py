"""Accessibility of the main public pages in a real browser: axe-core, 320 px, keyboard.

The HTML-level checks in ``htmlcheck.py`` cannot see contrast, focus or layout; this module serves
the real app (werkzeug in a thread, real derivatives in the object store, real search index) to
Debian's Chromium driven by Playwright, and runs axe-core's WCAG 2.1 A/AA rules on every main page,
measures horizontal overflow at 320 px and walks the Tab order. Playwright's own browser downloads
are never used: the test skips when Chromium or Playwright is missing, and fails instead when
``PASSAGES_REQUIRE_SERVICES=1`` (CI), so a green CI run always means the browser checks ran.
"""

from __future__ import annotations

import io
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _dispose, build_app
from tests.service_processes import service_missing

#: Every test here drives a real Chromium: slow by nature (CI runs them).
pytestmark = pytest.mark.slow

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def chromium_path() -> str | None:
    """The system Chromium; Playwright's downloaded browsers are deliberately not looked for."""
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


def wait_until(page: Any, expression: str, seconds: float = 15.0) -> None:
    """Poll ``expression`` from the test, never with Playwright's ``wait_for_function``.

    When the expression is not already true, ``wait_for_function`` keeps re-evaluating the string
    inside the page, which our Content-Security-Policy (no 'unsafe-eval') refuses: whether a test
    passed then depended on timing. ``page.evaluate`` goes through the DevTools protocol instead.
    """
    import time

    from playwright.sync_api import Error as PlaywrightError

    deadline = time.monotonic() + seconds
    while True:
        try:
            if page.evaluate(expression):
                return
        except PlaywrightError as exc:
            # The page is navigating (a reload the test waits for): ask the new page next time.
            if "context was destroyed" not in str(exc):
                raise
        assert time.monotonic() < deadline, f"still false after {seconds} s: {expression}"
        page.wait_for_timeout(100)


@dataclass
class Site:
    base: str
    pages: dict[str, str]


def _picture(seed: int, width: int) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, width * 3 // 4), (40 + seed * 30, 90, 140))
    ImageDraw.Draw(image).rectangle((width // 4, width // 4, width // 2, width // 2), fill="white")
    out = io.BytesIO()
    image.save(out, "WEBP", quality=60)
    return out.getvalue()


def _add_media(story, store, count: int) -> None:
    """Ready images whose derivatives really exist in the object store."""
    from webapp.models import MediaAsset

    for n in range(count):
        number = story.id * 10 + n
        derivatives: dict[str, Any] = {}
        for name, width in (("thumb", 320), ("medium", 800), ("large", 1600)):
            data = _picture(n, width)
            key = f"derivatives/{number}/{name}.webp"
            store.put(key, data, "image/webp")
            derivatives[name] = {"key": key, "mime": "image/webp", "width": width,
                                 "height": width * 3 // 4, "bytes": len(data)}  # fmt: skip
        story.media.append(
            MediaAsset(
                position=n,
                original_key=f"originals/sha256/{number:064x}",
                sha256=f"{number:064x}",
                mime_type="image/jpeg",
                byte_size=1000,
                width=1600,
                height=1200,
                alt_text=f"Photographie {n + 1} : {story.title}",
                state="ready",
                derivatives=derivatives,
            )
        )


def build_site_content(app) -> dict[str, str]:
    """Published stories (French, Arabic, English), a featured collection; returns page paths."""
    from webapp.blueprints.public import organisation_url, story_url
    from webapp.extensions import db
    from webapp.models import Collection, CollectionItem, Organisation, Story
    from webapp.periods import parse_period
    from webapp.services import backends
    from webapp.services.indexing import document_for

    specs = [
        ("Le marché de Vitry", "fr", ["Vitry-sur-Seine", "Oran"], "1962", ["travail"], 2,
         "Ma grand-mère vendait des épices au marché de Vitry le samedi.\n\nLe cumin."),
        ("حكاية جدي في مصنع السيارات", "ar", ["Saint-Denis"], "1960s", ["travail", "usine"], 1,
         "وصل جدي إلى سان دوني سنة ١٩٦٨ وعمل في مصنع السيارات ثلاثين سنة."),
        ("A school in Ivry", "en", ["Ivry-sur-Seine"], "1970-1979", ["école"], 0,
         "In 1975 my mother started school in Ivry-sur-Seine, near the market."),
    ]  # fmt: skip
    with app.app_context():
        store = backends.object_store()
        organisation = Organisation(name="Association Mémoires du 94", kind="association")
        stories = []
        for n, (title, language, places, period, themes, images, body) in enumerate(specs):
            parsed = parse_period(period)
            story = Story(
                title=title,
                body=body,
                language=language,
                places=places,
                period=period,
                period_start=parsed.start,
                period_end=parsed.end,
                themes=themes,
                licence="CC-BY-4.0",
                consent={"contributor": True},
                status="published",
                published_at=datetime.now(UTC) - timedelta(days=n),
                organisation=organisation,
            )
            db.session.add(story)
            db.session.flush()
            _add_media(story, store, images)
            stories.append(story)
        collection = Collection(
            title="Travailler en Val-de-Marne",
            slug="travailler",
            introduction="Des récits de **travail**, d'usines et de marchés.",
            published=True,
            featured=True,
        )
        collection.items = [CollectionItem(story=s, position=i) for i, s in enumerate(stories)]
        db.session.add(collection)
        db.session.commit()
        for story in stories:
            backends.search_index().upsert(document_for(story))
        with app.test_request_context():
            return {
                "home": "/",
                "story": story_url(stories[0]),
                "story-arabic": story_url(stories[1]),
                "search": "/search?q=march%C3%A9&theme=travail",
                "search-empty": "/search?q=zzzzqx",
                "collections": "/collections/",
                "collection": "/collections/travailler",
                "organisation": organisation_url(organisation),
                "places": "/places/",
                "place": "/places/vitry-sur-seine",
                "submit": "/submit",
                "login": "/login",
            }


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        service_missing("Chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_missing("Playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory, browser) -> Iterator[Site]:
    from werkzeug.serving import make_server

    app = build_app(tmp_path_factory.mktemp("browser") / "data", SERVER_NAME=None)
    pages = build_site_content(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(base=f"http://127.0.0.1:{server.server_port}", pages=pages)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        _dispose(app)


@pytest.fixture
def page_at(browser, site):
    """Open a page by name in a fresh context of ``width`` pixels; contexts are closed after."""
    contexts = []

    def open_page(name: str, width: int = 1280, language: str = "fr"):
        context = browser.new_context(viewport={"width": width, "height": 800})
        contexts.append(context)
        if language != "fr":  # the interface language is remembered in a cookie
            context.add_cookies([{"name": "lang", "value": language, "url": site.base}])
        page = context.new_page()
        response = page.goto(site.base + site.pages[name], wait_until="load")
        assert response is not None and response.status == 200, (name, response)
        return page

    yield open_page
    for context in contexts:
        context.close()


MAIN_PAGES = [
    "home", "story", "story-arabic", "search", "search-empty", "collections", "collection",
    "organisation", "places", "place", "submit", "login",
]  # fmt: skip


def _describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} → {targets}")
        for node in violation["nodes"][:2]:
            lines.append(f"    {node.get('failureSummary', '').splitlines()[-1:]}")
    return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("name", MAIN_PAGES)
def test_main_pages_have_no_wcag21_aa_violations_in_axe(page_at, name, language):
    from axe_playwright_python.sync_playwright import Axe

    page = page_at(name, language=language)
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    violations = results.response["violations"]
    assert not violations, f"{name}:\n{_describe(violations)}"


@pytest.mark.parametrize("name", MAIN_PAGES)
def test_main_pages_do_not_scroll_sideways_at_320_px(page_at, name):
    page = page_at(name, width=320)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 320, f"{name} is {width} px wide at a 320 px viewport"


def test_story_page_in_arabic_is_laid_out_right_to_left(page_at):
    page = page_at("story-arabic")
    direction = page.evaluate("getComputedStyle(document.querySelector('[lang=ar]')).direction")
    assert direction == "rtl"


@pytest.mark.parametrize("name", ["home", "story"])
def test_keyboard_reaches_the_search_box_and_main_links_with_a_visible_focus(page_at, name):
    page = page_at(name, width=320)
    reached: list[dict] = []
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate(
                """() => {
                    const e = document.activeElement;
                    const style = getComputedStyle(e);
                    return {
                        tag: e.tagName.toLowerCase(),
                        type: e.getAttribute('type'),
                        name: e.getAttribute('name'),
                        href: e.getAttribute('href'),
                        text: (e.innerText || '').trim().slice(0, 40),
                        outline: style.outlineStyle !== 'none'
                            && parseFloat(style.outlineWidth) > 0,
                        shadow: style.boxShadow !== 'none',
                    };
                }"""
            )
        )
        if reached[-1]["tag"] == "body":  # past the last link: focus left the page
            reached.pop()
            break
    assert reached[0]["href"] == "#main", f"first Tab stop should skip to content: {reached[0]}"
    search_box = [r for r in reached if r["tag"] == "input" and r["name"] == "q"]
    assert search_box, f"Tab never reached the search box: {reached[:12]}"
    hrefs = {r["href"] for r in reached}
    assert {"/collections/", "/places/"} <= hrefs, hrefs
    if name == "home":
        assert "/collections/travailler" in hrefs
    else:
        assert any((h or "").startswith("/places/") and h != "/places/" for h in hrefs), hrefs
    invisible = [r for r in reached if not (r["outline"] or r["shadow"])]
    assert not invisible, f"focused without a visible outline: {invisible[:5]}"
