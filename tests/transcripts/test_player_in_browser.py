"""The player with its transcript in a real browser: a click or Enter on a line seeks the
recording there, the line being said is highlighted, ``#t=mm:ss`` seeks on load, and the page
passes axe's WCAG 2.1 AA rules and does not scroll sideways on a 360 px phone.

The real app is served by werkzeug in a thread to Debian's Chromium driven by Playwright (as
tests/public/test_browser_a11y.py does); the recording is a real AAC/MP4 made with PyAV.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import _dispose, build_app
from tests.public.test_browser_a11y import WCAG_TAGS, _describe, wait_until
from tests.public.test_browser_a11y import browser as browser  # noqa: F401 - the fixture
from tests.transcripts.conftest import INTERVIEW_VTT, make_audio

pytestmark = pytest.mark.slow


@dataclass
class Player:
    base: str
    path: str
    media_id: int
    #: A second story with two recordings, the second of which has "tabouret" at 00:12.
    two_path: str = ""
    two_media: tuple[int, int] = (0, 0)


def make_peaks(seconds: float = 20.0) -> dict:
    """Peaks as the pipeline writes them (audiowaveform JSON, 8 bits): loud, then quiet."""
    columns = 400
    data: list[int] = []
    for column in range(columns):
        level = 100 if column < columns // 2 else 20
        data.extend((-level, level))
    return {
        "version": 2,
        "channels": 1,
        "sample_rate": 8000,
        "samples_per_pixel": int(seconds * 8000 / columns),
        "bits": 8,
        "length": columns,
        "data": data,
    }


def _add_recording(app, story, number: int, *, peaks: bool) -> int:
    """A playable 20 s recording (and its peaks) on ``story``, with its person's consent."""
    import json

    from webapp.extensions import db
    from webapp.models import MediaAsset, RecordingConsent
    from webapp.services import backends

    store = backends.object_store()
    media = MediaAsset(
        position=len(story.media),
        original_key=f"originals/sha256/{number:064x}",
        sha256=f"{number:064x}",
        mime_type="audio/mp4",
        kind="audio",
        byte_size=1000,
        original_filename=f"entretien-{number}.m4a",
        state="ready",
        credit="Archives départementales du Val-de-Marne",
        duration=20.0,
    )
    story.media.append(media)
    db.session.flush()
    data = make_audio(20.0)
    key = f"derivatives/{media.id}/audio.m4a"
    store.put(key, data, "audio/mp4")
    derivatives = {"audio": {"key": key, "mime": "audio/mp4", "bytes": len(data)}}
    if peaks:
        body = json.dumps(make_peaks()).encode()
        peaks_key = f"derivatives/{media.id}/peaks.json"
        store.put(peaks_key, body, "application/json")
        derivatives["peaks"] = {"key": peaks_key, "mime": "application/json", "bytes": len(body)}
    media.derivatives = derivatives
    db.session.add(RecordingConsent(media_id=media.id, person="Fatima", consent_given=True))
    return media.id


def build_two_recordings_story(app) -> tuple[str, int, int]:
    """A published story with two interviews; the second says "tabouret" at 00:12."""
    from webapp.blueprints.public import story_url
    from webapp.extensions import db
    from webapp.models import Story
    from webapp.services import backends, transcripts
    from webapp.services.indexing import document_for
    from webapp.unit_of_work import unit_of_work

    with app.app_context():
        story = Story(
            title="Deux entretiens à Vitry",
            body="Fatima et sa fille racontent la cité.",
            language="fr",
            places=["Vitry-sur-Seine"],
            themes=["famille"],
            licence="CC-BY-4.0",
            consent={"contributor": True},
            status="published",
        )
        db.session.add(story)
        db.session.flush()
        first = _add_recording(app, story, 21, peaks=True)
        second = _add_recording(app, story, 22, peaks=True)
        story_id = story.id
        db.session.commit()
        archivist = _archivist(app)
        with app.test_request_context():
            with unit_of_work() as uow:
                transcripts.attach_file(uow, second, "fr", INTERVIEW_VTT.encode(), archivist)
            story = db.session.get(Story, story_id)
            backends.search_index().upsert(document_for(story))
            return story_url(story), first, second


def build_recorded_story(app) -> tuple[str, int]:
    """A published interview with a playable recording (and its waveform's peaks), its
    transcript and index points."""
    import json

    from webapp.blueprints.public import story_url
    from webapp.extensions import db
    from webapp.models import MediaAsset, RecordingConsent, Story
    from webapp.services import backends, transcripts
    from webapp.services.indexing import document_for
    from webapp.unit_of_work import unit_of_work

    with app.app_context():
        store = backends.object_store()
        story = Story(
            title="Entretien avec Fatima",
            body="Fatima raconte son arrivée à Orly en 1962 et la cour de la cité.",
            language="fr",
            places=["Vitry-sur-Seine"],
            themes=["famille"],
            licence="CC-BY-4.0",
            consent={"contributor": True},
            status="published",
        )
        db.session.add(story)
        db.session.flush()
        options: dict[str, Any] = {"kind": "audio"} if hasattr(MediaAsset, "kind") else {}
        media = MediaAsset(
            position=0,
            original_key=f"originals/sha256/{7:064x}",
            sha256=f"{7:064x}",
            mime_type="audio/mp4",
            byte_size=1000,
            original_filename="fatima.m4a",
            state="ready",
            credit="Archives départementales du Val-de-Marne",
            **options,
        )
        story.media.append(media)
        db.session.flush()
        data = make_audio(20.0)
        key = f"derivatives/{media.id}/audio.m4a"
        store.put(key, data, "audio/mp4")
        peaks = json.dumps(make_peaks()).encode()
        store.put(f"derivatives/{media.id}/peaks.json", peaks, "application/json")
        media.derivatives = {
            "audio": {"key": key, "mime": "audio/mp4", "bytes": len(data)},
            "peaks": {
                "key": f"derivatives/{media.id}/peaks.json",
                "mime": "application/json",
                "bytes": len(peaks),
            },
        }
        db.session.add(RecordingConsent(media_id=media.id, person="Fatima", consent_given=True))
        story_id, media_id = story.id, media.id
        db.session.commit()
        archivist = _archivist(app)
        with app.test_request_context():
            with unit_of_work() as uow:
                transcripts.attach_file(uow, media_id, "fr", INTERVIEW_VTT.encode(), archivist)
                transcripts.set_index_points(
                    uow,
                    media_id,
                    [
                        transcripts.IndexPointInput("00:00", "L'arrivée à Orly", "Orly, 1962"),
                        transcripts.IndexPointInput("00:12", "La cour", "père, tabouret"),
                    ],
                    archivist,
                )
            story = db.session.get(Story, story_id)
            backends.search_index().upsert(document_for(story))
            return story_url(story), media_id


def _archivist(app):
    from tests.conftest import create_user_now

    return create_user_now("player-archivist@example.org", "archivist")[0]


@pytest.fixture(scope="module")
def player(tmp_path_factory, browser) -> Iterator[Player]:  # noqa: F811 - the imported fixture
    from werkzeug.serving import make_server

    app = build_app(tmp_path_factory.mktemp("player") / "data", SERVER_NAME=None)
    path, media_id = build_recorded_story(app)
    two_path, first, second = build_two_recordings_story(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        yield Player(base, path, media_id, two_path, (first, second))
    finally:
        server.shutdown()
        thread.join(timeout=5)
        _dispose(app)


@pytest.fixture
def open_player(browser, player):  # noqa: F811 - the imported fixture
    contexts = []

    def open_page(width: int = 1280, fragment: str = "", path: str = "", media_id: int | None = 0):
        context = browser.new_context(viewport={"width": width, "height": 800})
        contexts.append(context)
        page = context.new_page()
        response = page.goto(player.base + (path or player.path) + fragment, wait_until="load")
        assert response is not None and response.status == 200
        if media_id is None:  # a page without a player (search results)
            return page
        media_id = media_id or player.media_id
        wait_until(page, f"document.getElementById('player-{media_id}').readyState >= 1")
        wait_until(page, f"document.querySelector('.waveform[data-media=\"{media_id}\"] svg')")
        return page

    yield open_page
    for context in contexts:
        context.close()


def _current_time(page, media_id: int) -> float:
    return page.evaluate(f"document.getElementById('player-{media_id}').currentTime")


def test_clicking_a_transcript_line_seeks_the_player_there_and_highlights_it(open_player, player):
    page = open_player()
    page.get_by_text("Mon père réparait un tabouret dans la cour.").click()
    wait_until(page, f"document.getElementById('player-{player.media_id}').currentTime >= 12")
    assert 12.0 <= _current_time(page, player.media_id) < 14.0
    page.wait_for_selector("li.current a[aria-current=true]")
    assert "tabouret" in page.inner_text("li.current")
    assert page.url.endswith(f"#t=00:12&media={player.media_id}")


def test_enter_on_a_focused_line_seeks_too(open_player, player):
    page = open_player()
    line = page.locator("a.cue", has_text="لا تنسي بلدك")
    line.focus()
    page.keyboard.press("Enter")
    wait_until(page, f"document.getElementById('player-{player.media_id}').currentTime >= 8")
    assert 8.0 <= _current_time(page, player.media_id) < 10.0


def test_a_chapter_seeks_to_its_index_point(open_player, player):
    page = open_player()
    page.locator("nav.chapters a", has_text="La cour").click()
    wait_until(page, f"document.getElementById('player-{player.media_id}').currentTime >= 12")
    assert 12.0 <= _current_time(page, player.media_id) < 14.0


def test_the_page_seeks_to_the_moment_in_its_address(open_player, player):
    page = open_player(fragment="#t=00:12")
    wait_until(page, f"document.getElementById('player-{player.media_id}').currentTime >= 12")
    assert 12.0 <= _current_time(page, player.media_id) < 13.0


def test_the_captions_and_chapters_tracks_load_in_the_player(open_player, player):
    page = open_player()
    kinds = page.evaluate(
        f"""() => {{
            const tracks = document.getElementById('player-{player.media_id}').textTracks;
            for (const t of tracks) {{ t.mode = 'hidden'; }}
            return Array.from(tracks).map(t => t.kind);
        }}"""
    )
    assert kinds == ["captions", "chapters"]
    wait_until(
        page,
        f"Array.from(document.getElementById('player-{player.media_id}').textTracks)"
        ".every(t => t.cues && t.cues.length > 0)",
    )
    captions = page.evaluate(
        f"document.getElementById('player-{player.media_id}').textTracks[0].cues.length"
    )
    assert captions == 4


@pytest.mark.parametrize("width", [360, 1280])
def test_the_player_page_has_no_wcag21_aa_violations_and_fits_a_phone(open_player, width):
    from axe_playwright_python.sync_playwright import Axe

    page = open_player(width=width)
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    violations = results.response["violations"]
    assert not violations, _describe(violations)
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_typing_while_listening_stamps_each_line_with_the_player_s_time(browser, player):  # noqa: F811
    from tests.conftest import PASSWORD

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(player.base + "/login")
        page.fill("#email", "player-archivist@example.org")
        page.fill("#password", PASSWORD)
        page.click("main form button[type=submit]")
        page.wait_for_load_state("load")
        page.goto(f"{player.base}/recordings/{player.media_id}/edit", wait_until="load")
        wait_until(page, "document.getElementById('editor-player').readyState >= 1")
        area = page.locator("#t-text")
        area.fill("")
        page.evaluate("document.getElementById('editor-player').currentTime = 5")
        page.click("button.stamp")  # stamps the empty line, the caret stays on it
        page.keyboard.type("Je suis arrivée à Orly")
        page.keyboard.press("Enter")
        page.evaluate("document.getElementById('editor-player').currentTime = 9.5")
        page.keyboard.press("Control+Enter")  # the same from the keyboard
        page.keyboard.type("قالت لي أمي")
        assert area.input_value() == "00:05 Je suis arrivée à Orly\n00:09.5 قالت لي أمي"
        page.click("form.typing button[type=submit]")
        page.wait_for_load_state("load")
        vtt = page.request.get(f"{player.base}/media/{player.media_id}/transcripts/fr.vtt").text()
        assert "00:00:05.000 --> 00:00:09.500\nJe suis arrivée à Orly" in vtt
        assert "00:00:09.500 --> " in vtt and "قالت لي أمي" in vtt
    finally:
        context.close()


def test_a_search_result_said_in_the_second_recording_opens_that_recording_there(
    open_player, player
):
    first, second = player.two_media
    page = open_player(path="/search?q=tabouret", media_id=None)
    result = page.locator("li.result", has_text="Deux entretiens à Vitry")
    result.locator("p.moment a").click()
    page.wait_for_load_state("load")
    assert page.url.endswith(f"#t=00:12&media={second}")
    wait_until(page, f"document.getElementById('player-{second}').currentTime >= 12")
    assert 12.0 <= _current_time(page, second) < 13.0
    assert _current_time(page, first) == 0


def test_a_plain_moment_in_the_address_still_seeks_the_first_recording(open_player, player):
    first, second = player.two_media
    page = open_player(path=player.two_path, fragment="#t=00:12", media_id=first)
    wait_until(page, f"document.getElementById('player-{first}').currentTime >= 12")
    assert _current_time(page, second) == 0


def _waveform_box(page, media_id: int) -> dict:
    return page.evaluate(
        f"""() => {{
            const r = document.querySelector('.waveform[data-media="{media_id}"]')
                .getBoundingClientRect();
            return {{x: r.x, y: r.y, width: r.width, height: r.height}};
        }}"""
    )


def _played_width(page, media_id: int) -> float:
    return page.evaluate(
        f"""() => {{
            const path = document.querySelector(
                '.waveform[data-media="{media_id}"] .waveform-played');
            const rect = document.querySelector(path.getAttribute('clip-path')
                .slice(4, -1) + ' rect');
            return path.ownerSVGElement.getBoundingClientRect().width
                * rect.width.baseVal.value / path.ownerSVGElement.viewBox.baseVal.width;
        }}"""
    )


@pytest.mark.parametrize("width", [360, 1280])
def test_the_waveform_shows_the_part_played_and_a_click_on_it_seeks_there(
    open_player, player, width
):
    page = open_player(width=width)
    media = player.media_id
    box = _waveform_box(page, media)
    # Readable on a phone: as wide as the player, tall enough to see and to tap.
    player_width = page.evaluate(
        f"document.getElementById('player-{media}').getBoundingClientRect().width"
    )
    assert abs(box["width"] - player_width) <= 1 and box["height"] >= 40
    if width == 360:
        assert box["width"] >= 300
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert _played_width(page, media) == 0
    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
    wait_until(page, f"document.getElementById('player-{media}').currentTime >= 14")
    assert 14.0 <= _current_time(page, media) <= 16.0
    wait_until(page, f"document.querySelector('.waveform[data-media=\"{media}\"]')"
                    ".getAttribute('data-played') > 0.7")  # fmt: skip
    played = _played_width(page, media)
    assert box["width"] * 0.7 <= played <= box["width"] * 0.8


def test_the_waveform_is_not_a_tab_stop_and_the_player_s_controls_are(open_player, player):
    page = open_player()
    assert page.get_attribute(f'.waveform[data-media="{player.media_id}"]', "aria-hidden") == "true"
    reached = []
    for _ in range(60):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate(
                """() => {
                    const e = document.activeElement;
                    return e.closest('.waveform') ? 'waveform' : (e.id || e.tagName);
                }"""
            )
        )
    assert "waveform" not in reached
    assert f"player-{player.media_id}" in reached
