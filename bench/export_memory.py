"""Export bench: does ``passages export`` stream (memory flat as the archive grows)?

Builds throw-away archives (SQLite + local object store in a temporary folder) of published
stories whose public image is an incompressible object of ``--image-mb`` MB, then runs
``passages export`` in a fresh process for each size and prints, per run: stories, bag size,
peak resident memory of the export process (``ru_maxrss``), wall seconds and throughput. The
baseline is the same command on an empty archive (the process's own footprint: Python, Flask,
SQLAlchemy). What streaming means here: the peak above the baseline must not grow with the
archive — the ratio "growth of peak / growth of archive" must stay near 0 (an export that held
the images in memory would show about 1).

Usage: python bench/export_memory.py [--sizes 0,25,100] [--image-mb 4]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHILD = """
import resource, sys, time
from pathlib import Path
from webapp import create_app
from webapp.interop.bagit_export import write_bag
app = create_app({"PASSAGES_DATA_DIR": sys.argv[1], "REDIS_URL": "", "S3_ENDPOINT": "",
                  "SECRET_KEY": "bench", "SERVER_NAME": "bench.example"})
with app.app_context():
    started = time.monotonic()
    summary = write_bag(Path(sys.argv[2]))
    wall = time.monotonic() - started
print(summary.stories, summary.images, wall, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def build_archive(data_dir: Path, stories: int, image_mb: int) -> None:
    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.extensions import db
    from webapp.media.keys import derivative_key, original_key
    from webapp.models import MediaAsset, Story, utcnow
    from webapp.services import backends

    app = create_app({"PASSAGES_DATA_DIR": str(data_dir), "REDIS_URL": "", "S3_ENDPOINT": "",
                      "SECRET_KEY": "bench"})  # fmt: skip
    with app.app_context():
        upgrade(directory=str(app.extensions["migrate"].directory), revision="heads")
        store = backends.object_store()
        for n in range(stories):
            story = Story(title=f"Récit {n}", body="Texte " * 200, language="fr",
                          places=["Montreuil"], themes=["travail"], licence="CC-BY-4.0",
                          consent={"contributor": True}, status="published",
                          published_at=utcnow())  # fmt: skip
            db.session.add(story)
            db.session.flush()
            sha = f"{n:064x}"
            media = MediaAsset(story_id=story.id, position=0, original_key=original_key(sha),
                               sha256=sha, mime_type="image/jpeg", byte_size=1,
                               width=1600, height=1200, state="ready")  # fmt: skip
            db.session.add(media)
            db.session.flush()
            key = derivative_key(media.id, "download", "jpg")
            payload = os.urandom(image_mb * 1024 * 1024)
            store.put(key, payload, content_type="image/jpeg")
            media.derivatives = {"download": {"key": key, "mime": "image/jpeg", "width": 1600,
                                              "height": 1200, "bytes": len(payload)}}  # fmt: skip
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0,25,100")
    parser.add_argument("--image-mb", type=int, default=4)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="passages-export-bench-") as tmp:
        for size in sizes:
            data = Path(tmp) / f"data-{size}"
            build_archive(data, size, args.image_mb)
            out = Path(tmp) / f"bag-{size}.zip"
            started = time.monotonic()
            result = subprocess.run([sys.executable, "-c", CHILD, str(data), str(out)], cwd=REPO,
                                    capture_output=True, text=True, check=True)  # fmt: skip
            stories, images, wall, peak_kb = result.stdout.split()
            rows.append((size, int(images), out.stat().st_size / 1048576, int(peak_kb) / 1024,
                         float(wall), time.monotonic() - started))  # fmt: skip
            out.unlink()
    base_peak = rows[0][3]
    print("stories  images  bag MB  peak RSS MB  above baseline MB  export s  MB/s")
    for size, images, bag_mb, peak, wall, _total in rows:
        rate = bag_mb / wall if wall else 0
        print(f"{size:7d} {images:7d} {bag_mb:7.0f} {peak:12.0f} {peak - base_peak:18.0f}"
              f" {wall:9.1f} {rate:5.0f}")  # fmt: skip
    if len(rows) >= 3:
        (_, _, small_mb, small_peak, _, _), (_, _, large_mb, large_peak, _, _) = rows[-2], rows[-1]
        ratio = (large_peak - small_peak) / (large_mb - small_mb)
        print(f"peak growth / archive growth between the two largest runs: {ratio:.3f}")


if __name__ == "__main__":
    main()
