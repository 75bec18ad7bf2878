"""Screenshots of the story page's player (docs/screens/player-360.png and player-1280.png).

Usage (from the repository root; needs Debian's Chromium, ``apt-get install chromium``)::

    .venv/bin/python bench/player_screenshots.py [OUTPUT_FOLDER]   # default: docs/screens

It builds a throw-away app (as tests/transcripts/test_player_in_browser.py does: a published
interview with a French transcript, an Arabic line and two chapters), replaces its recording by
a 20-second synthetic voice-like sound run through the real audio pipeline
(``webapp.media.recording.transcode_audio``, which also computes the waveform's peaks), serves
it on a loopback port and photographs the page opened at ``#t=00:12&media=<id>`` in French:
the waveform with its played part, the line being said highlighted. The 1280 px shot is the
first screen, the 360 px one the whole page. Nothing is sent anywhere but 127.0.0.1; the app's
folder is removed at the end. It must never be imported by the application.
"""

from __future__ import annotations

import io
import math
import random
import shutil
import sys
import tempfile
import threading
import time
from array import array
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def voice_like(seconds: float = 20.0) -> bytes:
    """A mono AAC/MP4 whose loudness rises and falls like speech: syllables, words, pauses."""
    import av

    rate, frame_size = 44100, 1024
    rng = random.Random(7)
    # A loudness per 50 ms: words of 3–8 syllables separated by pauses.
    envelope: list[float] = []
    while len(envelope) < seconds * 20:
        for _ in range(rng.randint(3, 8)):
            peak = rng.uniform(0.3, 1.0)
            envelope += [peak * math.sin(math.pi * k / 4) for k in range(1, 4)]
        envelope += [0.02] * rng.randint(2, 10)
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "mono"
        total = int(seconds * rate)
        for offset in range(0, total, frame_size):
            n = min(frame_size, total - offset)
            wave = array("f")
            for i in range(n):
                t = (offset + i) / rate
                level = envelope[min(len(envelope) - 1, int(t * 20))]
                wave.append(0.8 * level * math.sin(2 * math.pi * (180 + 40 * math.sin(t)) * t))
            frame = av.AudioFrame(format="flt", layout="mono", samples=n)
            frame.planes[0].update(wave.tobytes())
            frame.sample_rate = rate
            frame.pts = offset
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def _through_the_pipeline(app, media_id: int, folder: Path) -> None:
    """Store the voice-like recording and its peaks as the worker would."""
    from webapp.extensions import db
    from webapp.media.recording import peaks_json, transcode_audio
    from webapp.models import MediaAsset
    from webapp.services import backends

    source, playable = folder / "voice.m4a", folder / "audio.m4a"
    source.write_bytes(voice_like())
    result = transcode_audio(str(source), str(playable))
    with app.app_context():
        store = backends.object_store()
        media = db.session.get(MediaAsset, media_id)
        audio_key, peaks_key = (
            f"derivatives/{media_id}/audio.m4a",
            f"derivatives/{media_id}/peaks.json",
        )
        store.put(audio_key, playable.read_bytes(), "audio/mp4")
        store.put(peaks_key, peaks_json(result.peaks), "application/json")
        media.duration = result.duration
        media.derivatives = {
            "audio": {"key": audio_key, "mime": "audio/mp4", "bytes": playable.stat().st_size},
            "peaks": {"key": peaks_key, "mime": "application/json",
                      "bytes": len(peaks_json(result.peaks))},
        }  # fmt: skip
        db.session.commit()


def _wait(page, expression: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(expression)
        page.wait_for_timeout(100)


def main() -> None:
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from tests.conftest import _dispose, build_app
    from tests.public.test_browser_a11y import chromium_path
    from tests.transcripts.test_player_in_browser import build_recorded_story

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screens"
    executable = chromium_path()
    if executable is None:
        raise SystemExit("Chromium is not installed (apt-get install chromium)")
    folder = Path(tempfile.mkdtemp(prefix="player-shots-"))
    app = build_app(folder / "data", SERVER_NAME=None)
    server = None
    try:
        path, media_id = build_recorded_story(app)
        _through_the_pipeline(app, media_id, folder)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_port}{path}#t=00:12&media={media_id}"
        with sync_playwright() as playwright:
            flags = ["--no-sandbox", "--disable-gpu"]
            browser = playwright.chromium.launch(executable_path=executable, args=flags)
            try:
                for width, height, full in ((360, 800, True), (1280, 900, False)):
                    context = browser.new_context(
                        viewport={"width": width, "height": height},
                        locale="fr-FR",
                        extra_http_headers={"Accept-Language": "fr"},
                    )
                    page = context.new_page()
                    page.goto(url, wait_until="load")
                    _wait(page, f"document.getElementById('player-{media_id}').currentTime >= 12")
                    _wait(page, "document.querySelector('li.current') !== null")
                    _wait(page, "document.querySelector('.waveform svg') !== null")
                    page.evaluate("window.scrollTo(0, 0)")
                    target = out / f"player-{width}.png"
                    page.screenshot(path=str(target), full_page=full)
                    print(target)
                    context.close()
            finally:
                browser.close()
    finally:
        if server is not None:
            server.shutdown()
        _dispose(app)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
