"""The class project journey in a real browser, from the archive's documents to the collection.

An archivist publishes two archive documents and a teaching dossier; a teacher creates a class
and starts a project; two students join with the class code and, on a 360 px wide phone screen,
each opens the document given to them, zooms into it, fills in the guided analysis and hands in a
story in response; the teacher forwards one, the archivist publishes it; the document's page
shows it and the response's page shows the document; the archivist turns the project's
published responses into a collection, which prints as an exhibition PDF whose text (read with
pypdf) holds every published title and whose link annotations open the stories.

The app is served by werkzeug in a thread to Debian's Chromium driven by Playwright (as
``tests/public/test_browser_a11y.py``); images and the exhibition are made in-process by the
real jobs. With
``PASSAGES_SCREENSHOTS_DIR`` set, every screen is saved there at 360 and 1280 px wide
(``journey-<n>-<screen>-<width>.png``); axe-core checks each of them for WCAG 2.1 AA.
"""

from __future__ import annotations

import io
import json
import os
import re
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pypdf
import pytest

from tests.conftest import PASSWORD, _dispose, build_app, create_user_now, issue_token_now
from tests.public.test_browser_a11y import CHROMIUM_ARGS, WCAG_TAGS, _describe, chromium_path
from tests.service_processes import service_missing

pytestmark = pytest.mark.slow

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


class Screens:
    """Saves each screen of the journey at both widths when PASSAGES_SCREENSHOTS_DIR is set."""

    def __init__(self) -> None:
        #: WCAG 2.1 AA violations axe-core found on each screen, asserted empty at the end.
        self.violations: dict[str, str] = {}
        folder = os.environ.get("PASSAGES_SCREENSHOTS_DIR")
        self.folder = Path(folder) if folder else None
        self.count = 0
        if self.folder:
            self.folder.mkdir(parents=True, exist_ok=True)

    def shoot(self, page: Any, name: str) -> None:
        self.check(page, name)
        if self.folder is None:
            return
        self.count += 1
        original = page.viewport_size
        for size in (PHONE, DESKTOP):
            page.set_viewport_size(size)
            page.evaluate("window.scrollTo(0, 0)")  # sticky parts where a reader first sees them
            page.screenshot(
                path=str(self.folder / f"journey-{self.count:02d}-{name}-{size['width']}.png"),
                full_page=True,
            )
        page.set_viewport_size(original)

    def check(self, page: Any, name: str) -> None:
        from axe_playwright_python.sync_playwright import Axe

        results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
        if results.response["violations"]:
            self.violations[name] = _describe(results.response["violations"])


def _scan(seed: int) -> bytes:
    """A "scanned letter": a large pale page with lines of dark "writing"."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (2000, 2600), (236, 228, 205))
    draw = ImageDraw.Draw(image)
    for line in range(40):
        y = 200 + line * 55
        draw.line((180, y, 1820 - (line * 37 + seed * 90) % 600, y), fill=(40, 40, 90), width=9)
    draw.rectangle((1500, 2200, 1800, 2450), outline=(120, 20, 20), width=12)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


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


@pytest.fixture
def served(tmp_path) -> Iterator[tuple[Any, str]]:
    from werkzeug.serving import make_server

    app = build_app(tmp_path / "data", SERVER_NAME=None)
    with app.app_context():
        create_user_now("archivist@example.org", "archivist")
        create_user_now("teacher@example.org", "teacher")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        _dispose(app)


def _derive_all(app) -> None:
    """Run the real derivative job for every image still pending (what a worker would do)."""
    from webapp.extensions import db
    from webapp.models import MediaAsset
    from workers import context, images

    with app.app_context():
        pending = db.session.scalars(
            db.select(MediaAsset.id).where(MediaAsset.state == "pending")
        ).all()
    context.use_app(app)
    try:
        for media_id in pending:
            images.derive_media(media_id)
    finally:
        context._app = None


def _build_exhibition(app, slug: str) -> None:
    """Run the real exhibition job for the collection (what a worker does after the relay)."""
    from webapp.extensions import db
    from webapp.models import Collection
    from workers import context, exhibitions

    with app.app_context():
        collection_id = db.session.scalar(db.select(Collection.id).where(Collection.slug == slug))
    context.use_app(app)
    try:
        exhibitions.build_exhibition(collection_id)
    finally:
        context._app = None


def _login(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def _pinch(page, selector: str) -> None:
    """Two fingers placed on the element's centre, moved apart (touch events, as a phone)."""
    box = page.locator(selector).first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + min(box["height"], 300) / 2
    cdp = page.context.new_cdp_session(page)

    def touch(kind: str, spread: float) -> None:
        points = (
            []
            if kind == "touchEnd"
            else [
                {"x": cx - spread, "y": cy, "id": 1},
                {"x": cx + spread, "y": cy, "id": 2},
            ]
        )
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", 20)
    for step in range(1, 11):
        touch("touchMove", 20 + step * 12)
    touch("touchEnd", 0)
    cdp.detach()


def _publish(page, base: str, story_id: int) -> None:
    """An archivist's moves on the review screen: start the review, approve, publish."""
    page.goto(f"{base}/moderation/stories/{story_id}")
    for move in ("start_review", "approve", "publish"):
        button = page.locator(f"button[name=decision][value={move}]")
        if button.count():
            button.first.click()
            page.wait_for_load_state()


def _story_id_by_title(app, title: str) -> int:
    from webapp.extensions import db
    from webapp.models import Story

    with app.app_context():
        return db.session.scalar(db.select(Story.id).where(Story.title == title))


def test_a_class_project_from_archive_documents_to_a_collection(served, browser):
    app, base = served
    screens = Screens()

    # --- the archivist publishes two documents (API) and approves them (review screen) ---------
    with app.app_context():
        token = issue_token_now("archivist@example.org")
    archivist = browser.new_context(viewport=DESKTOP)
    desk = archivist.new_page()
    documents = [
        ("Lettre d'un habitant au préfet", "1962", "AD94 2 W 145"),
        ("Le bidonville sous la neige", "1965", "AD94 5 Fi 12"),
    ]
    document_ids = []
    for n, (title, period, reference) in enumerate(documents):
        metadata = {
            "title": title,
            "body": f"Document d'archives ({reference}).",
            "language": "fr",
            "places": ["Champigny-sur-Marne"],
            "period": period,
            "themes": ["logement"],
            "licence": "CC-BY-4.0",
            "consent": {"contributor": True},
            "alt_texts": [f"Scan : {title}"],
            "kind": "document",
            "source": {"institution": "Archives du Val-de-Marne", "reference": reference},
        }
        sent = desk.request.post(
            f"{base}/api/v1/stories",
            headers={"Authorization": f"Bearer {token}"},
            multipart={
                "metadata": json.dumps(metadata),
                "images": {"name": "scan.jpg", "mimeType": "image/jpeg", "buffer": _scan(n)},
            },
        )
        assert sent.status in (201, 202), sent.text()
        document_ids.append(sent.json()["id"])
    _derive_all(app)
    _login(desk, base, "archivist@example.org")
    for document_id in document_ids:
        _publish(desk, base, document_id)
    assert desk.request.get(f"{base}/api/v1/stories/{document_ids[0]}").json()["status"] == (
        "published"
    )

    # --- ... and a teaching dossier holding them -----------------------------------------------
    desk.goto(f"{base}/curation/dossiers/new")
    desk.fill("#title", "Le bidonville de Champigny, 1956–1971")
    desk.fill("#level", "cycle 4, 12–15 ans")
    desk.fill("#introduction", "Des **lettres** et des photographies du bidonville.")
    desk.fill("#teacher_context", "Jusqu'à 10 000 personnes y ont vécu.")
    desk.fill("#guidance", "Préparer un temps d'échange : certains élèves ont une histoire proche.")
    desk.fill("#questions", "Qui écrit, et à qui ?\nQue montre la photographie ?")
    desk.check("#published")
    desk.click("form.dossier-form button[type=submit]")
    desk.wait_for_load_state()
    for document_id in document_ids:
        desk.fill("#story_id", str(document_id))
        desk.click("form.inline-form button[type=submit]")
        desk.wait_for_load_state()
    assert desk.locator("table.items tbody tr").count() == 2
    screens.shoot(desk, "archivist-dossier-edit")
    desk.goto(f"{base}/dossiers/le-bidonville-de-champigny-1956-1971")
    assert desk.locator(".dossier-documents li").count() == 2
    screens.shoot(desk, "dossier-public-page")
    desk.goto(f"{base}/dossiers/le-bidonville-de-champigny-1956-1971/sheet")
    screens.shoot(desk, "teacher-sheet")

    # --- the teacher creates a class and starts a project --------------------------------------
    teacher = browser.new_context(viewport=DESKTOP)
    board = teacher.new_page()
    _login(board, base, "teacher@example.org")
    board.goto(f"{base}/classes/")
    board.fill("#name", "4e B")
    board.click("main form button[type=submit]")
    board.wait_for_load_state()
    code = board.locator(".code").first.inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{6}", code), code
    board.goto(f"{base}/dossiers/le-bidonville-de-champigny-1956-1971")
    board.click("a[href*='/projects/?dossier_id=']")
    board.fill("#title", "Mémoires du bidonville")
    board.fill("#deadline", (date.today() + timedelta(days=14)).isoformat())
    board.fill("#instructions", "Choisis un détail du document et raconte.")
    screens.shoot(board, "teacher-start-project")
    board.click("form.project-form button[type=submit]")
    board.wait_for_load_state()
    project_url = board.url
    assert re.search(r"/projects/\d+$", project_url), project_url

    # --- two students join with the code, on a phone ------------------------------------------
    phones = []
    for pseudonym in ("Nour", "Malik"):
        context = browser.new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
        )
        phone = context.new_page()
        phone.goto(f"{base}/join")
        phone.fill("#code", code.lower())
        phone.fill("#pseudonym", pseudonym)
        phone.click("main form button[type=submit]")
        phone.wait_for_load_state()
        assert phone.locator("dd.code strong").count() == 1  # the access code, shown once
        phones.append((pseudonym, context, phone))

    board.goto(project_url)
    board.click("button[name=distribute][value=yes]")
    board.wait_for_load_state()
    assert board.locator(".student-row").count() == 2
    screens.shoot(board, "teacher-follow-up-assigned")

    # --- each opens their document on 360 px, zooms, analyses and writes ----------------------
    titles = {"Nour": "La lettre de monsieur B.", "Malik": "La neige sur les baraques"}
    for pseudonym, _context, phone in phones:
        phone.goto(f"{base}/projects/")
        phone.click("ul.project-list a")
        phone.wait_for_load_state()
        image = phone.locator(".zoom-viewport img").first
        image.wait_for(state="visible")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        before = image.bounding_box()["width"]
        assert before <= PHONE["width"]
        phone.click("[data-zoom-step='1']")
        phone.click("[data-zoom-step='1']")
        zoomed = image.bounding_box()["width"]
        assert zoomed > before * 2  # the document is really larger, inside its frame
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        if pseudonym == "Nour":
            screens.shoot(phone, "student-document-zoomed")
        phone.click("[data-zoom-step='0']")
        if pseudonym == "Malik":  # two fingers moving apart on the image zoom into it too
            _pinch(phone, ".zoom-viewport")
            assert image.bounding_box()["width"] > before * 1.5
            assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            phone.click("[data-zoom-step='0']")
        phone.fill("#analysis_what", "Une lettre écrite à la main.")
        phone.fill("#analysis_who", "Un habitant du bidonville.")
        phone.fill("#analysis_silent", "On ne sait pas si le préfet a répondu.")
        phone.fill("#title", titles[pseudonym])
        phone.fill("#body", "Il demande un logement pour sa famille. Je pense à mon grand-père.")
        phone.check("#consent")
        if pseudonym == "Nour":
            screens.shoot(phone, "student-writing-desk")
        phone.click("button[name=action][value=hand_in]")
        phone.wait_for_load_state()
        assert phone.locator(".flash.success").count() == 1
        if pseudonym == "Nour":
            screens.shoot(phone, "student-handed-in")

    # --- the teacher follows progress and forwards one ---------------------------------------
    board.goto(project_url)
    rows = board.locator(".student-row")
    assert rows.count() == 2
    assert board.locator(".student-row.progress-handed_in").count() == 2
    screens.shoot(board, "teacher-follow-up-handed-in")
    nour_story = _story_id_by_title(app, titles["Nour"])
    board.goto(f"{base}/moderation/stories/{nour_story}")
    board.fill("#given_by", "Sa mère, formulaire signé")
    board.click("form:has(#given_by) button[type=submit]")
    board.wait_for_load_state()
    board.goto(project_url)
    row = board.locator(".student-row", has_text="Nour")
    row.locator("button[name=decision][value=forward]").click()
    board.wait_for_load_state()
    assert board.locator(".student-row.progress-forwarded").count() == 1
    screens.shoot(board, "teacher-follow-up-forwarded")

    # --- the archivist publishes it ----------------------------------------------------------
    _publish(desk, base, nour_story)
    assert desk.request.get(f"{base}/api/v1/stories/{nour_story}").json()["status"] == "published"
    _derive_all(app)

    # --- the document's page shows the response; the response's page shows the document -----
    answered = desk.request.get(f"{base}/api/v1/stories/{nour_story}").json()["responds_to"]
    assert len(answered) == 1 and answered[0]["id"] in document_ids
    nour_document = answered[0]["id"]
    reader = browser.new_context(viewport=DESKTOP).new_page()
    reader.goto(f"{base}/stories/{nour_document}")
    assert titles["Nour"] in reader.content()
    screens.shoot(reader, "document-page-with-response")
    reader.goto(f"{base}/stories/{nour_story}")
    link = reader.locator(f"main a[href*='/stories/{nour_document}']").first
    assert answered[0]["title"] in link.inner_text()
    screens.shoot(reader, "response-page-with-document")
    board.goto(project_url)
    assert board.locator(".student-row.progress-published").count() == 1

    # --- the archivist makes the project's collection -----------------------------------------
    desk.goto(f"{base}/projects/")
    screens.shoot(desk, "archivist-projects")
    desk.click("form[action$='/collection'] button")
    desk.wait_for_load_state()
    assert "/curation/collections/" in desk.url
    public_link = desk.locator("main a[href^='/collections/']:not([href='/collections/'])")
    collection_path = public_link.first.get_attribute("href")
    reader.goto(f"{base}{collection_path}")
    assert titles["Nour"] in reader.content() and titles["Malik"] not in reader.content()
    screens.shoot(reader, "collection-of-the-project")

    # --- ... which prints as an exhibition: every published title, links to the stories ------
    pdf_url = f"{base}{collection_path}/exhibition.pdf"
    waiting = reader.request.get(pdf_url)
    assert waiting.status == 202 and int(waiting.headers["retry-after"]) > 0
    _build_exhibition(app, collection_path.rsplit("/", 1)[1])
    printed = reader.request.get(pdf_url)
    assert printed.status == 200 and printed.headers["content-type"] == "application/pdf"
    pdf = pypdf.PdfReader(io.BytesIO(printed.body()))
    text = " ".join(" ".join(page.extract_text() for page in pdf.pages).split())
    assert titles["Nour"] in text and titles["Malik"] not in text
    links = [
        annotation.get_object()["/A"]["/URI"]
        for page in pdf.pages
        for annotation in page.get("/Annots", [])
        if annotation.get_object().get("/Subtype") == "/Link" and "/A" in annotation.get_object()
    ]
    story_links = {urlsplit(str(uri)).path for uri in links if "/stories/" in str(uri)}
    assert story_links and all(path.startswith(f"/stories/{nour_story}") for path in story_links)
    for path in story_links:  # each link opens the story online
        reader.goto(f"{base}{path}")
        assert titles["Nour"] in reader.content()

    for _pseudonym, context, _phone in phones:
        context.close()
    assert not screens.violations, "\n".join(f"{k}:\n{v}" for k, v in screens.violations.items())
