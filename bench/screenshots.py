"""Screenshots of the main public pages at 320 px and 1280 px, from the real demo site.

Usage::

    .venv/bin/python bench/screenshots.py OUTPUT_FOLDER [--chromium /usr/bin/chromium]

It starts ``passages run --demo`` on a free loopback port with a throw-away data folder, waits
until the demo stories are searchable and their images derived, adds a featured collection of
the published demo stories (as the demo archivist, through the curation service), then drives
the system Chromium with Playwright and writes ``<page>-<width>.png`` (full-page) into
OUTPUT_FOLDER. Playwright's own browser downloads are never used. Nothing is sent anywhere but
127.0.0.1; the demo is stopped and its data folder removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WIDTHS = (320, 1280)
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get_json(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


def _wait_for_demo(base: str, timeout: float = 180) -> list[dict]:
    """Published demo stories once searchable and with every image derived."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _get_json(f"{base}/api/v1/search?q=&per_page=50")
        if found and found.get("total", 0) >= 3:
            stories = [_get_json(f"{base}/api/v1/stories/{hit['id']}") for hit in found["results"]]
            if all(s and all(m["state"] == "ready" for m in s["media"]) for s in stories):
                return stories
        time.sleep(1)
    raise SystemExit("the demo site did not become ready in time")


def _add_collection(data_dir: Path, story_ids: list[int]) -> str:
    """A featured collection of the demo stories, made the way an archivist would."""
    from webapp import create_app
    from webapp.extensions import db
    from webapp.models import User
    from webapp.services import collections

    app = create_app({"PASSAGES_DATA_DIR": str(data_dir)})
    with app.app_context():
        archivist = db.session.scalar(
            db.select(User).where(User.email == "archiviste@passages.example")
        )
        fields = collections.CollectionFields(
            title="Travailler et apprendre",
            slug="travailler-et-apprendre",
            introduction="Des récits de **marchés**, d'usines et d'écoles en Val-de-Marne "
            "et en Seine-Saint-Denis.",
            published=True,
            featured=True,
        )
        collection = collections.save_collection(fields, archivist)
        for story_id in story_ids:
            collections.add_story(collection.id, story_id, archivist)
        slug = collection.slug
        db.session.remove()
        db.engine.dispose()
    return slug


def _pages(stories: list[dict], collection_slug: str) -> dict[str, str]:
    def path(url: str) -> str:
        return "/" + url.split("/", 3)[3]

    by_language = {s["language"]: s for s in stories}
    pages = {"home": "/", "collection": f"/collections/{collection_slug}"}
    if "fr" in by_language:
        pages["story"] = path(by_language["fr"]["url"])
    if "ar" in by_language:
        pages["story-arabic"] = path(by_language["ar"]["url"])
    pages.update(
        {
            "search": "/search?q=travail",
            "places": "/places/",
            "place": "/places/vitry-sur-seine",
            "submit": "/submit",
            "login": "/login",
        }
    )
    return pages


def _shoot(base: str, pages: dict[str, str], out: Path, chromium: str) -> list[Path]:
    from playwright.sync_api import sync_playwright

    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            for width in WIDTHS:
                context = browser.new_context(viewport={"width": width, "height": 900})
                page = context.new_page()
                for name, path in pages.items():
                    page.goto(base + path, wait_until="networkidle")
                    target = out / f"{name}-{width}.png"
                    page.screenshot(path=str(target), full_page=True)
                    written.append(target)
                context.close()
        finally:
            browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="folder for the PNG files")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="Chromium executable")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="passages-screenshots-") as tmp:
        data_dir = Path(tmp) / "data"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("S3_", "DATABASE_URL", "REDIS_URL", "PASSAGES_"))}  # fmt: skip
        env["PASSAGES_DATA_DIR"] = str(data_dir)
        demo = subprocess.Popen(
            [sys.executable, "-m", "webapp.cli", "run", "--demo", "--port", str(port)],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            stories = _wait_for_demo(base)
            os.environ["PASSAGES_DATA_DIR"] = str(data_dir)
            slug = _add_collection(data_dir, [s["id"] for s in stories])
            written = _shoot(base, _pages(stories, slug), args.output, args.chromium)
        finally:
            os.killpg(demo.pid, signal.SIGINT)
            try:
                demo.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
