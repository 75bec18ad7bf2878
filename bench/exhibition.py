"""Exhibition bench: how long does a 30-story collection take to print, and how much memory?

Builds a throw-away archive (SQLite + local object store in a temporary folder) holding one
published collection of ``--stories`` published stories (every fifth in Arabic, right to left),
each with ``--images`` photo-like JPEG originals of ``--megapixels`` MP (the first) and half that
(the others) and about 2,500 characters of text. Then, each in a fresh process:

1. the job itself, ``workers.exhibitions.build_exhibition(collection id)`` — both PDFs (A3
   panels and A4 booklet) written to the store — with its wall time, its CPU time and the peak
   resident memory of the process (``VmHWM``: Python and the app included);
2. the same work in phases (images decoded from the originals, panels laid out, booklet laid
   out), in CPU seconds, to show where the time goes whatever else the machine is doing;
3. the baseline: the process with the app loaded and nothing built.

Usage: python bench/exhibition.py [--stories 30] [--images 2] [--megapixels 12]
"""

from __future__ import annotations

import argparse
import io
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

#: Peak resident memory of this process since its exec (``VmHWM``). Not ``ru_maxrss``: Linux
#: carries over into it the peak of the process that forked the child (this bench, which holds
#: the decoded photos while making the archive).
PEAK = """
def peak_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
"""

SETTINGS = """{"PASSAGES_DATA_DIR": sys.argv[1], "REDIS_URL": "", "S3_ENDPOINT": "",
               "SECRET_KEY": "bench", "PUBLIC_URL": "https://memoire.example.fr"}"""

JOB = f"""
import resource, sys, time
{PEAK}
from webapp import create_app
from workers.context import use_app
app = create_app({SETTINGS})
use_app(app)
from workers.exhibitions import build_exhibition
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu_before = usage.ru_utime + usage.ru_stime
started = time.monotonic()
fingerprint = build_exhibition(int(sys.argv[2]))
wall = time.monotonic() - started
assert fingerprint, "nothing was built"
from webapp.media import keys
from webapp.services import backends
with app.app_context():
    store = backends.object_store()
    sizes = [store.stat(keys.exhibition_key(int(sys.argv[2]), fingerprint, f)).size
             for f in ("panels", "booklet")]
usage = resource.getrusage(resource.RUSAGE_SELF)
print(wall, usage.ru_utime + usage.ru_stime - cpu_before, peak_kib(), *sizes)
"""

PHASES = f"""
import resource, sys, time
{PEAK}
from webapp import create_app
from webapp.interop.bagit_export import public_link_context
from webapp.printing import exhibition as layout
from webapp.services import exhibitions
from webapp.unit_of_work import unit_of_work
from webapp.extensions import db
from webapp.models import Exhibition
app = create_app({SETTINGS})
with app.app_context():
    with unit_of_work():  # the job made it already: build again, as after a change
        db.session.get(Exhibition, int(sys.argv[2])).state = "requested"
    with unit_of_work() as uow:
        plan = exhibitions.start_build(uow, int(sys.argv[2]))
    times = []  # CPU seconds of this process: the machine may be busy with other work
    started = time.process_time()
    with public_link_context():
        content = exhibitions.content(plan)
    times.append(time.process_time() - started)
    for fmt in ("panels", "booklet"):
        started = time.process_time()
        layout.render(content, fmt)
        times.append(time.process_time() - started)
print(*times, len(content.stories), peak_kib())
"""

BASELINE = f"""
import resource, sys
{PEAK}
from webapp import create_app
from workers.context import use_app
app = create_app({SETTINGS})
use_app(app)
import workers.exhibitions, webapp.printing.exhibition, fpdf, segno
print(peak_kib())
"""

FRENCH = (
    "Ma grand-mère est arrivée à Vitry-sur-Seine au printemps 1962, avec deux valises et "
    "l'adresse d'un cousin écrite sur un ticket de métro. Elle a d'abord travaillé à l'usine "
    "de piles, puis elle a tenu un étal d'épices au marché du samedi. "
)
ARABIC = (
    "وصلت جدتي إلى فيتري في ربيع عام ألف وتسعمائة واثنين وستين، ومعها حقيبتان وعنوان ابن "
    "عمها مكتوب على تذكرة مترو. عملت أولاً في مصنع البطاريات ثم صارت تبيع التوابل في السوق. "
)


_GRAIN: dict[tuple[int, int], object] = {}


def photo(width: int, height: int, seed: int) -> bytes:
    """A photo-like JPEG: smooth colour fields with grain, so decoding costs what a photo does.

    The grain of each size is made once (it is the slow part); the colours differ per seed, so
    every original is a distinct file.
    """
    from PIL import Image, ImageFilter

    if (width, height) not in _GRAIN:
        grain = Image.effect_noise((width, height), 24).filter(ImageFilter.BoxBlur(1))
        _GRAIN[width, height] = Image.merge("RGB", (grain, grain, grain))
    rng = random.Random(seed)
    small = Image.new("RGB", (16, 12))
    small.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(16 * 12)])
    image = small.resize((width, height), Image.Resampling.BICUBIC)
    image = Image.blend(image, _GRAIN[width, height], 0.15)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def build_archive(data_dir: Path, stories: int, images: int, megapixels: float) -> int:
    """The archive and its collection; returns the collection's id."""
    import hashlib

    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.extensions import db
    from webapp.media.keys import original_key
    from webapp.models import Collection, CollectionItem, MediaAsset, Story, utcnow
    from webapp.services import backends

    app = create_app(
        {
            "PASSAGES_DATA_DIR": str(data_dir),
            "REDIS_URL": "",
            "S3_ENDPOINT": "",
            "SECRET_KEY": "bench",
        }
    )
    main_w = int((megapixels * 1e6 * 4 / 3) ** 0.5)
    sizes = [(main_w, main_w * 3 // 4)] + [(main_w * 7 // 10, main_w * 7 // 10 * 4 // 3)] * (
        images - 1
    )
    with app.app_context():
        upgrade(directory=str(app.extensions["migrate"].directory), revision="heads")
        store = backends.object_store()
        collection = Collection(
            title="Mémoires du Val-de-Marne",
            slug="memoires",
            introduction="Une exposition **itinérante**. " * 30,
            published=True,
        )
        db.session.add(collection)
        for n in range(stories):
            arabic = n % 5 == 4
            story = Story(
                title=f"حكاية رقم {n}" if arabic else f"Récit numéro {n} : le marché du samedi",
                body=(ARABIC if arabic else FRENCH) * 10,
                language="ar" if arabic else "fr",
                places=["Vitry-sur-Seine"],
                period="1962",
                themes=["travail"],
                licence="CC-BY-4.0",
                consent={"contributor": True},
                status="published",
                published_at=utcnow(),
                extra={"credit": "Archives départementales"},
            )
            db.session.add(story)
            db.session.flush()
            for position, (width, height) in enumerate(sizes):
                data = photo(width, height, seed=n * 10 + position)
                sha = hashlib.sha256(data).hexdigest()
                store.put(original_key(sha), data, content_type="image/jpeg")
                db.session.add(
                    MediaAsset(
                        story_id=story.id,
                        position=position,
                        original_key=original_key(sha),
                        sha256=sha,
                        mime_type="image/jpeg",
                        byte_size=len(data),
                        width=width,
                        height=height,
                        state="ready",
                    )
                )
            db.session.add(CollectionItem(collection=collection, story_id=story.id, position=n))
        db.session.commit()
        collection_id = collection.id
        db.session.remove()
        db.engine.dispose()
    return collection_id


def run(code: str, *args: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(result.stderr)
    return result.stdout.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=30)
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--megapixels", type=float, default=12.0)
    options = parser.parse_args()
    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory(prefix="passages-exhibition-bench-") as folder:
        data_dir = Path(folder) / "data"
        started = time.monotonic()
        collection_id = build_archive(data_dir, options.stories, options.images, options.megapixels)
        print(
            f"archive: {options.stories} published stories, {options.images} images each "
            f"({options.megapixels:g} MP originals), made in {time.monotonic() - started:.0f} s"
        )
        baseline = int(run(BASELINE, str(data_dir))[0]) / 1024
        wall, cpu, rss, panels, booklet = run(JOB, str(data_dir), str(collection_id))
        print(
            f"job build_exhibition (panels + booklet): {float(wall):.1f} s "
            f"({float(cpu):.1f} s of CPU), "
            f"peak RSS {int(rss) / 1024:.0f} MB (process baseline {baseline:.0f} MB); "
            f"panels {int(panels) / 1e6:.1f} MB, booklet {int(booklet) / 1e6:.1f} MB"
        )
        images, panels_s, booklet_s, count, rss = run(PHASES, str(data_dir), str(collection_id))
        print(
            f"phases, CPU seconds: images from the originals {float(images):.1f} s, "
            f"A3 panels {float(panels_s):.1f} s, A4 booklet {float(booklet_s):.1f} s "
            f"({count} stories; peak RSS {int(rss) / 1024:.0f} MB)"
        )


if __name__ == "__main__":
    main()
