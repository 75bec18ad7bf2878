"""IIIF bench: what a viewer's first screen costs on a collection of 24 MP photographs.

Builds a fresh archive in a temporary folder (SQLite, local object store), submits N stories with
one 24 MP photo-like JPEG each (6000×4000, q92, ~4 MB; one in three stored sideways with EXIF
orientation 6), runs the real image job on each and publishes them. Then, through the app's WSGI
interface (Flask's test client: no network, one request at a time, so figures are server time),
it replays what Mirador/OpenSeadragon ask for when a story is opened in a 1280×800 viewer:

* **first screen**: the manifest, the canvas thumbnail, ``info.json``, and every tile of each
  pyramid level OpenSeadragon draws at "home" zoom (from the level where the image fits one tile
  to the first level at least as detailed as the screen: 1 + 2 + 6 tiles of 512 px here);
* **zoom to 100 %**: the full-resolution tiles covering the 1280×800 viewport at the centre.

Each scenario runs cold (empty cache) and then warm (same requests again), over all stories;
per-request latencies are pooled and the p50/p95/max are printed, with the total per story and
where the bytes came from (stored derivative, cache, made from a derivative, cut from the
original). The baseline in the same run is "naive": every first-screen request answered by
decoding the original fully (what a IIIF server without derivatives or cache does), measured on
the same requests.

    python bench/iiif.py                 # 6 stories (about 2 minutes with the corpus cached)
    python bench/iiif.py --stories 3     # quicker
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import math
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "iiif"
sys.path.insert(0, str(ROOT))

VIEWPORT = (1280, 800)
TILE = 512
MIN_PIXEL_RATIO = 0.5  # OpenSeadragon's default: a level is drawn from half a pixel per pixel


def _photo_like():
    spec = importlib.util.spec_from_file_location("bench_images", ROOT / "bench" / "images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.photo_like


def corpus(count: int) -> list[bytes]:
    """24 MP JPEGs, generated once into bench/out/iiif/ (deterministic)."""
    OUT.mkdir(parents=True, exist_ok=True)
    photo_like = None
    files = []
    for n in range(count):
        path = OUT / f"photo-{n}.jpg"
        if not path.exists():
            photo_like = photo_like or _photo_like()
            picture = photo_like(6000, 4000, seed=100 + n)
            save = {"quality": 92}
            if n % 3 == 2:  # stored sideways, shown upright through EXIF
                picture = picture.transpose(Image.Transpose.ROTATE_90)
                exif = Image.Exif()
                exif[0x0112] = 6
                save["exif"] = exif.tobytes()
            picture.save(path, "JPEG", **save)
        files.append(path.read_bytes())
    return files


def build_archive(data_dir: Path, photos: list[bytes]):
    """A migrated app with one published story per photo, derived by the real image job."""
    os.environ.setdefault("PASSAGES_LOG_LEVEL", "WARNING")
    from flask_migrate import upgrade

    from tests.conftest import create_user_now, in_action, story_metadata, submit_story_now
    from webapp import create_app
    from webapp.services import review, submissions
    from workers.context import use_app
    from workers.images import derive_media

    app = create_app(
        {
            "PASSAGES_DATA_DIR": str(data_dir),
            "DATABASE_URL": f"sqlite:///{data_dir / 'passages.sqlite3'}",
            "REDIS_URL": "",
            "S3_ENDPOINT": "",
            "SECRET_KEY": "bench",
            "SERVER_NAME": "passages.bench",
            "RATE_LIMITS_ENABLED": "false",
        }
    )
    stories = []
    with app.app_context():
        upgrade(directory=str(app.extensions["migrate"].directory), revision="heads")
        archivist_id = create_user_now("a@bench.org", "archivist", "bench-password-1")[0].id
        for n, data in enumerate(photos):
            story = submit_story_now(
                story_metadata(title=f"Photo {n}"),
                [submissions.IncomingImage("photo.jpg", io.BytesIO(data))],
                submitter=None,
            )
            stories.append((story.id, story.media[0].id))
    use_app(app)
    started = time.perf_counter()
    for _, media_id in stories:
        assert derive_media(media_id) == "derived"
    derive_s = time.perf_counter() - started
    with app.app_context():
        from webapp.extensions import db
        from webapp.models import User

        archivist = db.session.get(User, archivist_id)
        for story_id, _ in stories:
            in_action(review.review, story_id, "approve", None, archivist)
    return app, stories, derive_s


def home_tiles(width: int, height: int, scale_factors: list[int]) -> list[str]:
    """The tiles OpenSeadragon requests at home zoom, coarsest level first (IIIF 3 ``w,h``)."""
    shown = min(VIEWPORT[0] / width, VIEWPORT[1] / height)  # screen pixels per image pixel
    paths = []
    for factor in sorted(scale_factors, reverse=True):
        paths += _level_tiles(width, height, factor, (0, 0, width, height))
        if shown * factor / 2 < MIN_PIXEL_RATIO:  # the next level is finer than needed
            break
    return paths


def zoom_tiles(width: int, height: int) -> list[str]:
    """Full-resolution tiles covering the viewport at the centre of the image."""
    cx, cy = width // 2, height // 2
    view = (
        cx - VIEWPORT[0] // 2,
        cy - VIEWPORT[1] // 2,
        cx + VIEWPORT[0] // 2,
        cy + VIEWPORT[1] // 2,
    )
    return _level_tiles(width, height, 1, view)


def _level_tiles(
    width: int, height: int, factor: int, view: tuple[int, int, int, int]
) -> list[str]:
    side = TILE * factor
    paths = []
    for ty in range(view[1] // side, math.ceil(view[3] / side)):
        for tx in range(view[0] // side, math.ceil(view[2] / side)):
            x, y = tx * side, ty * side
            w, h = min(side, width - x), min(side, height - y)
            size = f"{math.ceil(w / factor)},{math.ceil(h / factor)}"
            region = "full" if (w, h) == (width, height) else f"{x},{y},{w},{h}"
            paths.append(f"{region}/{size}/0/default.jpg")
    return paths


def timed_get(client, url: str) -> tuple[float, str]:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - started
    assert response.status_code in (200, 303), (url, response.status_code, response.data[:200])
    return elapsed, response.headers.get("X-IIIF-Source", "document")


def screen_requests(client, story_id: int, media_id: int) -> tuple[list[str], list[str]]:
    """The URLs of the first screen and of the zoom, read from what the viewer is given."""
    manifest_url = f"/iiif/stories/{story_id}/manifest.json"
    manifest = client.get(manifest_url).get_json(force=True)
    canvas = manifest["items"][0]
    base = f"/iiif/3/{media_id}"
    info = client.get(f"{base}/info.json").get_json(force=True)
    factors = info["tiles"][0]["scaleFactors"]
    thumbnail = canvas["thumbnail"][0]["id"].removeprefix("http://passages.bench")
    first = [manifest_url, thumbnail, f"{base}/info.json"]
    first += [f"{base}/{p}" for p in home_tiles(info["width"], info["height"], factors)]
    zoom = [f"{base}/{p}" for p in zoom_tiles(info["width"], info["height"])]
    return first, zoom


def run(client, plans: list[list[str]]) -> tuple[list[float], list[float], Counter]:
    """Replay each story's requests; per-request and per-story seconds, and the sources."""
    latencies, totals, sources = [], [], Counter()
    for urls in plans:
        story_total = 0.0
        for url in urls:
            elapsed, source = timed_get(client, url)
            latencies.append(elapsed)
            story_total += elapsed
            sources[source] += 1
        totals.append(story_total)
    return latencies, totals, sources


def naive(photos: list[bytes], plans: list[list[str]]) -> list[float]:
    """Every image request of the first screen answered from a full decode of the original."""
    latencies = []
    for data, urls in zip(photos, plans, strict=True):
        for url in urls:
            if url.endswith(".json"):
                continue
            started = time.perf_counter()
            picture = Image.open(io.BytesIO(data))
            picture.load()
            region, size = url.split("/")[-4:-2]
            if region != "full":
                x, y, w, h = (int(v) for v in region.split(","))
                picture = picture.crop((x, y, x + w, y + h))
            w, h = (int(v) for v in size.split(","))
            out = io.BytesIO()
            picture.resize((w, h), Image.Resampling.LANCZOS).save(out, "JPEG", quality=85)
            latencies.append(time.perf_counter() - started)
    return latencies


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def line(label: str, latencies: list[float], totals: list[float] | None = None) -> str:
    text = (
        f"{label:<22} n={len(latencies):<4} p50 {pct(latencies, 50) * 1000:7.1f} ms  "
        f"p95 {pct(latencies, 95) * 1000:7.1f} ms  max {max(latencies) * 1000:7.1f} ms"
    )
    if totals:
        text += f"  per story {statistics.median(totals) * 1000:7.1f} ms (median)"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=6)
    args = parser.parse_args()
    photos = corpus(args.stories)
    with tempfile.TemporaryDirectory(prefix="passages-iiif-bench-") as folder:
        app, stories, derive_s = build_archive(Path(folder) / "data", photos)
        client = app.test_client()
        with app.app_context():
            plans = [screen_requests(client, s, m) for s, m in stories]
        first = [p[0] for p in plans]
        zoom = [p[1] for p in plans]
        print(f"stories: {len(stories)} × 24 MP JPEG (6000×4000); cores: {os.cpu_count()}; "
              f"load average: {os.getloadavg()[0]:.2f}; "
              f"derive: {derive_s / len(stories):.2f} s/img")  # fmt: skip
        print(f"first screen: {len(first[0])} requests per story "
              f"(manifest, thumbnail, info.json, {len(first[0]) - 3} tiles); "
              f"zoom to 100 %: {len(zoom[0])} tiles")  # fmt: skip
        cold, cold_totals, cold_sources = run(client, first)
        warm, warm_totals, warm_sources = run(client, first)
        zoom_cold, zoom_cold_totals, zoom_cold_sources = run(client, zoom)
        zoom_warm, zoom_warm_totals, _ = run(client, zoom)
        baseline = naive(photos, first)
        print(line("first screen, cold", cold, cold_totals))
        print(line("first screen, warm", warm, warm_totals))
        print(line("zoom 100 %, cold", zoom_cold, zoom_cold_totals))
        print(line("zoom 100 %, warm", zoom_warm, zoom_warm_totals))
        print(line("naive (full decode)", baseline))
        print(f"sources, first screen cold: {dict(cold_sources)}; warm: {dict(warm_sources)}")
        print(f"sources, zoom cold: {dict(zoom_cold_sources)}")
        images = [v for v, u in zip(cold, [u for p in first for u in p], strict=True)
                  if not u.endswith(".json")]  # fmt: skip
        print(f"first-screen images, cold p50 / naive p50: "
              f"{pct(images, 50) / pct(baseline, 50):.3f}; "
              f"p95 / naive p95: {pct(images, 95) / pct(baseline, 95):.3f}")  # fmt: skip
        from webapp.extensions import db

        with app.app_context():
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
