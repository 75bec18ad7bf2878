"""The form's script in a real browser: each audio or video file chosen gets its own consent
fields (the form-wide section, for forms without JavaScript, is hidden and not sent), a minor's
guardian fields appear when "minor" is ticked, and what is typed is recorded with the upload.

The real app is served by werkzeug in a thread to Debian's Chromium driven by Playwright (as
tests/public/test_browser_a11y.py does); the recordings are real files made with PyAV.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from tests.conftest import _dispose, build_app, make_jpeg
from tests.public.test_browser_a11y import browser as browser  # noqa: F401 - the fixture
from tests.recordings.generate import make_audio

pytestmark = pytest.mark.slow


@pytest.fixture
def served(tmp_path, browser) -> Iterator[SimpleNamespace]:  # noqa: F811 - the imported fixture
    from werkzeug.serving import make_server

    app = build_app(tmp_path / "data", SERVER_NAME=None)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(app=app, base=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=5)
        _dispose(app)


def _recorded(app) -> dict[str, tuple]:
    from webapp.extensions import db
    from webapp.models import MediaAsset, RecordingConsent

    with app.app_context():
        rows = db.session.execute(
            db.select(MediaAsset.original_filename, RecordingConsent).join(
                RecordingConsent, RecordingConsent.media_id == MediaAsset.id
            )
        ).all()
        return {
            name: (row.person, row.consent_given, row.minor, row.guardian_declared_by)
            for name, row in rows
        }


def test_each_recording_chosen_gets_its_own_consent_fields(served, browser, tmp_path):  # noqa: F811
    files = {
        "fatima.wav": make_audio("wav", seconds=2.0),
        "cour.jpg": make_jpeg(400, 300),
        "karim.mp3": make_audio("mp3", seconds=2.0),
    }
    paths = []
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(str(path))
    context = browser.new_context(viewport={"width": 360, "height": 800})
    try:
        page = context.new_page()
        page.goto(served.base + "/submit", wait_until="load")
        assert not page.is_visible("#recording-consent")
        page.fill("#title", "Entretien avec Fatima et Karim")
        page.fill("#body", "Deux voix de la cité.")
        page.check("#consent")
        page.set_input_files("#images", paths)
        legends = page.locator("#upload-panel fieldset.recording-consent legend")
        assert legends.all_inner_texts() == [
            "Consentement de la personne enregistrée dans « fatima.wav »",
            "Consentement de la personne enregistrée dans « karim.mp3 »",
        ]
        page.fill("#rec0_person", "Fatima")
        page.check("#rec0_consent")
        page.fill("#rec2_person", "Karim")
        page.check("#rec2_consent")
        assert not page.is_visible("#rec2_guardian")
        page.check("#rec2_minor")
        assert page.is_visible("#rec2_guardian")
        page.fill("#rec2_guardian", "sa mère, formulaire signé")
        page.check("#rec2_guardian_consent")
        page.fill("#alt_texts", "\nLa cour de la cité")
        page.get_by_role("button", name="Envoyer l’histoire").click()
        deadline = time.monotonic() + 30
        while "/status/" not in page.url:
            assert time.monotonic() < deadline, page.inner_text("#upload-panel")
            page.wait_for_timeout(100)
    finally:
        context.close()
    assert _recorded(served.app) == {
        "fatima.wav": ("Fatima", True, False, None),
        "karim.mp3": ("Karim", True, True, "sa mère, formulaire signé"),
    }
