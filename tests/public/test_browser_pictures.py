"""Pictures in a real browser: the story page's images open full screen and zoom with a pinch
on a phone (Escape closes, focus returns); search results show their thumbnails."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.public.test_browser_a11y import browser, site, wait_until  # noqa: F401  (shared fixtures)

pytestmark = pytest.mark.slow
SCREENS = Path("/work/notes/screens")


@pytest.fixture
def phone(browser, site):  # noqa: F811
    context = browser.new_context(viewport={"width": 360, "height": 740}, has_touch=True,
                                  is_mobile=True, device_scale_factor=2,
                                  locale="fr-FR")  # fmt: skip
    yield context.new_page()
    context.close()


def _pinch(page, cdp, spread: float) -> None:
    """Two fingers on the middle of the screen moving apart by ``spread`` px each."""
    cx, cy = 180, 370

    def points(d: float) -> list[dict]:
        return [{"x": cx - d, "y": cy, "id": 1}, {"x": cx + d, "y": cy, "id": 2}]

    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": points(20)})
    for step in range(1, 11):
        cdp.send("Input.dispatchTouchEvent",
                 {"type": "touchMove", "touchPoints": points(20 + spread * step / 10)})  # fmt: skip
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def test_story_image_opens_full_screen_zooms_with_a_pinch_and_escape_returns_focus(phone, site):  # noqa: F811
    page = phone
    page.goto(site.base + site.pages["story"])
    link = page.locator(".gallery a.zoom").first
    link.scroll_into_view_if_needed()
    link.tap()
    dialog = page.locator("dialog#viewer")
    dialog.wait_for(state="visible")
    assert page.evaluate("document.querySelector('dialog#viewer').open")
    big = dialog.locator(".viewer-stage img")
    assert "/large" in big.get_attribute("src")
    assert big.get_attribute("alt") == "Photographie 1 : Le marché de Vitry"
    wait_until(page, "document.querySelector('#viewer img').complete")
    assert page.evaluate("document.querySelector('#viewer img').getAttribute('data-scale')") == (
        "1.00"
    )
    cdp = page.context.new_cdp_session(page)
    _pinch(page, cdp, 80)
    scale = float(page.evaluate("document.querySelector('#viewer img').getAttribute('data-scale')"))
    assert scale > 2, f"the pinch did not zoom: {scale}"
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / "story-viewer-zoomed-360.png"))
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    focused = page.evaluate("document.activeElement.className")
    assert focused == "zoom", f"focus did not return to the picture: {focused}"


def test_viewer_works_with_the_keyboard_alone(browser, site):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(site.base + site.pages["story"])
        page.focus(".gallery a.zoom")
        page.keyboard.press("Enter")
        page.locator("dialog#viewer").wait_for(state="visible")
        page.keyboard.press("+")
        assert float(page.get_attribute("#viewer img", "data-scale")) == 1.5
        page.keyboard.press("Escape")
        page.locator("dialog#viewer").wait_for(state="hidden")
        assert page.evaluate("document.activeElement.className") == "zoom"
    finally:
        context.close()


@pytest.mark.parametrize("width", [360, 1280])
def test_search_results_show_thumbnails_in_the_browser(browser, site, width):  # noqa: F811
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="fr-FR")
    page = context.new_page()
    try:
        page.goto(site.base + "/search?theme=travail")
        pictures = page.locator(".results .result-thumb img")
        assert pictures.count() >= 2
        wait_until(
            page,
            "[...document.querySelectorAll('.results .result-thumb img')]"
            ".every(i => i.complete && i.naturalWidth > 0)",
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(SCREENS / f"search-{width}.png"), full_page=True)
    finally:
        context.close()
