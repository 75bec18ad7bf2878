"""A whole class session with the keyboard alone, in a real browser: the teacher creates a class,
a student joins with its code, writes and hands in a story, the teacher returns it with a
comment, the student fixes it and hands it in again, the teacher records the guardian's consent
and forwards it to the archive. Between page loads the test only presses Tab, Shift+Tab, Enter
and Space and types text: never a click, never a script that fills a field.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from tests.conftest import PASSWORD, _dispose, build_app, create_user_now
from tests.public.test_browser_a11y import browser  # noqa: F401  (the shared Chromium fixture)

pytestmark = pytest.mark.slow

#: A focused element described for the predicate of :func:`tab_to`.
FOCUSED = """() => { const e = document.activeElement; return {
    tag: e.tagName.toLowerCase(), id: e.id, name: e.getAttribute('name'),
    value: e.getAttribute('value'), text: (e.innerText || '').trim(),
    href: e.getAttribute('href') }; }"""


def tab_to(page, wanted, limit: int = 120) -> dict:
    """Press Tab until the focused element satisfies ``wanted``; fail if it never does."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if wanted(focused):
            return focused
        seen.append(focused)
    raise AssertionError(f"Tab never reached the wanted element; went through {seen[-15:]}")


def enter_and_load(page) -> None:
    """Press Enter on the focused control and wait for the page it leads to."""
    with page.expect_navigation():
        page.keyboard.press("Enter")


def fill_by_keyboard(page, field_id: str, text: str, clear: bool = False) -> None:
    tab_to(page, lambda f: f["id"] == field_id)
    if clear:
        page.keyboard.press("Control+A")
        page.keyboard.press("Delete")
    page.keyboard.type(text)


@pytest.fixture(scope="module")
def server(tmp_path_factory, browser) -> Iterator[SimpleNamespace]:  # noqa: F811
    from werkzeug.serving import make_server

    app = build_app(tmp_path_factory.mktemp("keyboard") / "data", SERVER_NAME=None)
    with app.app_context():
        create_user_now("teacher@example.org", "teacher", PASSWORD)
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(app=app, base=f"http://127.0.0.1:{http.server_port}")
    finally:
        http.shutdown()
        thread.join(timeout=5)
        _dispose(app)


def _status(server, title: str) -> tuple[int, str]:
    from webapp.extensions import db
    from webapp.models import Story

    with server.app.app_context():
        story = db.session.scalar(db.select(Story).where(Story.title == title))
        return story.id, story.status


@pytest.mark.parametrize("width", [320, 1280])
def test_a_class_session_works_with_the_keyboard_alone(browser, server, width):  # noqa: F811
    title = f"Le voyage de ma grand-mère ({width} px)"
    teacher = browser.new_context(viewport={"width": width, "height": 800}).new_page()
    student = browser.new_context(viewport={"width": width, "height": 800}).new_page()
    try:
        # The teacher logs in and creates a class.
        teacher.goto(server.base + "/login")
        fill_by_keyboard(teacher, "email", "teacher@example.org")
        fill_by_keyboard(teacher, "password", PASSWORD)
        teacher.keyboard.press("Enter")
        teacher.wait_for_url(lambda url: "/login" not in url)
        teacher.goto(server.base + "/classes/")
        tab_to(teacher, lambda f: f["name"] == "name" and f["tag"] == "input")
        teacher.keyboard.type(f"3e C {width}")
        teacher.keyboard.press("Enter")
        teacher.wait_for_url(re.compile(r"/classes/\d+$"))
        code = teacher.locator("strong.code").first.inner_text().strip()
        assert re.fullmatch(r"[A-Z0-9]{6}", code), code

        # The student joins with the code, then writes and hands in a story.
        student.goto(server.base + "/join")
        fill_by_keyboard(student, "code", code.lower())
        fill_by_keyboard(student, "pseudonym", "Nour")
        enter_and_load(student)
        assert code in student.content()
        tab_to(student, lambda f: (f["href"] or "") == "/submit")
        student.keyboard.press("Enter")
        student.wait_for_url("**/submit")
        fill_by_keyboard(student, "title", title)
        fill_by_keyboard(student, "body", "Elle est arrivée à Orly.")
        tab_to(student, lambda f: f["id"] == "consent")
        student.keyboard.press("Space")
        tab_to(student, lambda f: f["tag"] == "button" and f["text"].startswith("Envoyer l"))
        student.keyboard.press("Enter")
        student.wait_for_url("**/status/**")
        story_id, status = _status(server, title)
        assert status == "submitted"

        # The teacher returns it with a comment.
        teacher.goto(server.base + "/moderation/")
        tab_to(teacher, lambda f: (f["href"] or "") == f"/moderation/stories/{story_id}")
        teacher.keyboard.press("Enter")
        teacher.wait_for_url(f"**/moderation/stories/{story_id}")
        fill_by_keyboard(teacher, "note", "Raconte aussi son arrivée à Vitry.")
        tab_to(teacher, lambda f: f["name"] == "decision" and f["value"] == "return")
        enter_and_load(teacher)
        assert _status(server, title)[1] == "returned"

        # The student reads the comment, fixes the story and hands it in again.
        student.goto(server.base + "/me")
        assert "Raconte aussi son arrivée à Vitry." in student.content()
        tab_to(student, lambda f: (f["href"] or "") == f"/me/stories/{story_id}")
        student.keyboard.press("Enter")
        student.wait_for_url(f"**/me/stories/{story_id}")
        fill_by_keyboard(student, "body", " Puis elle a pris le train pour Vitry.")
        tab_to(student, lambda f: f["name"] == "resubmit" and f["value"] == "yes")
        enter_and_load(student)
        assert _status(server, title)[1] == "submitted"

        # The teacher records the guardian's consent and forwards the story to the archive.
        teacher.goto(f"{server.base}/moderation/stories/{story_id}")
        fill_by_keyboard(teacher, "given_by", "Sa mère, formulaire signé")
        enter_and_load(teacher)
        tab_to(teacher, lambda f: f["name"] == "decision" and f["value"] == "forward")
        enter_and_load(teacher)
        assert _status(server, title)[1] == "in_review"
    finally:
        teacher.context.close()
        student.context.close()
