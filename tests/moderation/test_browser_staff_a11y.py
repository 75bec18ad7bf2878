"""The staff screens are as fit as the public ones: axe-core's WCAG 2.1 A/AA rules pass on the
student's, the teacher's, the archivist's and the administrator's screens, at 320 px (without
scrolling sideways) and at 1280 px, in French.

Same approach as ``tests/public/test_browser_a11y.py``: the real app served in a thread to
Debian's Chromium through Playwright, with real derivatives in the object store; each person
logs in through the real login forms (the browser context keeps their cookie).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from tests.conftest import PASSWORD, _dispose, build_app, create_user_now, in_action
from tests.public.test_browser_a11y import (  # noqa: F401  (the shared Chromium fixture)
    WCAG_TAGS,
    _add_media,
    _describe,
    browser,
    build_site_content,
)

pytestmark = pytest.mark.slow


def _staff_world(app) -> SimpleNamespace:
    """Public content, a class with a student whose story (with images) waits for the teacher,
    an anonymous story in quarantine, a collection, and one person of each role."""
    from webapp.extensions import db
    from webapp.models import Collection, Organisation, Story
    from webapp.services import backends, classes

    build_site_content(app)
    with app.app_context():
        school = Organisation(name="Collège Romain Rolland", kind="school")
        db.session.add(school)
        db.session.commit()
        teacher, _ = create_user_now("teacher@example.org", "teacher", PASSWORD)
        teacher.organisation_id = school.id
        create_user_now("archivist@example.org", "archivist", PASSWORD)
        create_user_now("admin@example.org", "admin", PASSWORD)
        db.session.commit()
        klass = in_action(classes.create_class, teacher, "4e B")
        joined = in_action(classes.join_class, klass.code, "Amina")
        student = joined.student
        story = Story(title="Le voyage de ma grand-mère", body="Elle est arrivée à Orly en 1971.",
                      language="fr", places=["Orly"], period="1971", themes=["voyage"],
                      licence="CC-BY-4.0", consent={"contributor": True, "minor": True},
                      status="submitted", submitted_by_id=student.id, class_id=klass.id,
                      organisation_id=school.id)  # fmt: skip
        anonymous = Story(title="Une histoire sans compte", body="Arrivé en 1980.",
                          language="fr", places=["Créteil"], licence="CC-BY-4.0",
                          consent={"contributor": True}, status="submitted",
                          quarantined=True)  # fmt: skip
        db.session.add_all([story, anonymous])
        db.session.flush()
        _add_media(story, backends.object_store(), 2)
        db.session.commit()
        collection_id = db.session.scalar(db.select(Collection.id))
        return SimpleNamespace(
            class_id=klass.id,
            class_code=klass.code,
            access_code=joined.access_code,
            story_id=story.id,
            collection_id=collection_id,
        )


@pytest.fixture(scope="module")
def staff_site(tmp_path_factory, browser) -> Iterator[SimpleNamespace]:  # noqa: F811
    from werkzeug.serving import make_server

    app = build_app(tmp_path_factory.mktemp("staff") / "data", SERVER_NAME=None)
    world = _staff_world(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(base=f"http://127.0.0.1:{server.server_port}", world=world)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        _dispose(app)


def _screens(world: SimpleNamespace) -> dict[str, list[str]]:
    story, klass = world.story_id, world.class_id
    return {
        "student": ["/me", f"/me/stories/{story}", "/submit"],
        "teacher": ["/classes/", f"/classes/{klass}", f"/classes/{klass}/sheet", "/moderation/",
                    f"/moderation/stories/{story}", "/account"],
        "archivist": ["/moderation/", f"/moderation/stories/{story}", "/moderation/quarantine/",
                      "/curation/", f"/curation/collections/{world.collection_id}",
                      f"/curation/stories/{story}/descriptions", "/curation/transfers",
                      "/indicators/", "/takedown"],
        "admin": ["/admin/", "/admin/people", "/admin/throttled", "/admin/checks/",
                  "/admin/jobs/"],
    }  # fmt: skip


#: The innermost elements that stick out past the viewport's right edge (what to fix).
WIDE_ELEMENTS = """(width) => [...document.querySelectorAll('main *')]
    .filter(e => e.getBoundingClientRect().right > width + 1)
    .filter(e => ![...e.children].some(c => c.getBoundingClientRect().right > width + 1))
    .slice(0, 6).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '')
        + ' ' + Math.round(e.getBoundingClientRect().right)
        + ' ' + (e.innerText || '').slice(0, 30))"""


def _log_in(context, site: SimpleNamespace, role: str) -> None:
    page = context.new_page()
    if role == "student":
        page.goto(site.base + "/class-login")
        page.fill("#code", site.world.class_code)
        page.fill("#pseudonym", "Amina")
        page.fill("#access_code", site.world.access_code)
    else:
        page.goto(site.base + "/login")
        page.fill("#email", f"{role}@example.org")
        page.fill("#password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state("load")
    assert "/login" not in page.url, f"{role} could not log in: {page.url}"
    page.close()


@pytest.mark.parametrize("width", [320, 1280])
@pytest.mark.parametrize("role", ["student", "teacher", "archivist", "admin"])
def test_staff_screens_pass_axe_and_fit_the_width(browser, staff_site, role, width):  # noqa: F811
    from axe_playwright_python.sync_playwright import Axe

    context = browser.new_context(viewport={"width": width, "height": 800})
    try:
        _log_in(context, staff_site, role)
        page = context.new_page()
        problems: list[str] = []
        for path in _screens(staff_site.world)[role]:
            response = page.goto(staff_site.base + path, wait_until="load")
            assert response is not None and response.status == 200, (role, path, response)
            results: Any = Axe().run(
                page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}}
            )
            violations = results.response["violations"]
            if violations:
                problems.append(f"{path}:\n{_describe(violations)}")
            scroll = page.evaluate("document.documentElement.scrollWidth")
            if scroll > width:
                wide = page.evaluate(WIDE_ELEMENTS, width)
                problems.append(f"{path} is {scroll} px wide at {width} px: {wide}")
        assert not problems, f"{role} at {width} px:\n" + "\n".join(problems)
    finally:
        context.close()


@pytest.mark.parametrize("width", [360, 1280])
def test_indicator_charts_are_drawn_and_readable_in_the_browser(browser, staff_site, width):  # noqa: F811
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="fr-FR")
    try:
        _log_in(context, staff_site, "archivist")
        page = context.new_page()
        page.goto(staff_site.base + "/indicators/")
        charts = page.locator("svg.chart[role=img]")
        assert charts.count() >= 5
        language = page.locator("#chart-by_language svg.chart")
        box = language.bounding_box()
        assert box is not None and 0 < box["width"] <= width
        bars = page.locator("#chart-by_language rect.bar")
        assert bars.count() == 3  # French, Arabic, English
        widths = [bars.nth(n).bounding_box()["width"] for n in range(bars.count())]
        assert max(widths) > 0 and max(widths) >= 2 * min(widths)  # 3 French stories, 1 Arabic
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=f"/work/notes/screens/indicators-{width}.png", full_page=True)
    finally:
        context.close()


def test_bulk_actions_say_how_many_stories_they_will_touch(browser, staff_site):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        _log_in(context, staff_site, "archivist")
        page = context.new_page()
        page.goto(staff_site.base + "/moderation/?status=")
        boxes = page.locator("input[name=story_id]")
        total = boxes.count()
        assert total >= 3
        apply = page.locator("button[data-bulk-apply]")
        assert apply.is_disabled() and apply.inner_text() == "Appliquer"
        boxes.nth(0).check()
        assert apply.inner_text() == "Appliquer (1)" and apply.is_enabled()
        assert page.locator("[data-selected-count]").inner_text() == "1 histoire sélectionnée"
        page.check("#select-all")
        assert apply.inner_text() == f"Appliquer ({total})"
        assert page.locator("[data-selected-count]").inner_text() == (
            f"{total} histoires sélectionnées"
        )
        assert boxes.evaluate_all("bs => bs.every(b => b.checked)")
    finally:
        context.close()
