"""Concurrency through the real pipeline: parallel imports never mix up or lose images.

Archive systems have been known to attach one upload's thumbnails to another under parallel
imports. Here several ``passages worker --burst`` processes derive a few hundred different images
at once on PostgreSQL and a real Redis, while the same photograph arrives twice at the same
moment in two stories. Each image's colour encodes its number, so every derivative is checked by
decoding its pixels, not by trusting names or rows.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image, ImageStat

from tests.conftest import REPO, build_app, story_metadata, worker_env

STORIES = 20
PER_STORY = 10
WORKERS = 3
TWIN = STORIES * PER_STORY  # the number encoded in the photograph submitted twice


def colour_of(number: int) -> tuple[int, int, int]:
    """A colour per number, 16 levels apart per channel: survives lossy encoding unambiguously."""
    return (8 + 16 * (number % 14), 8 + 16 * (number // 14 % 15), 40 + 64 * (number // 210))


def number_of(image: Image.Image) -> int | None:
    mean = ImageStat.Stat(image.convert("RGB")).mean
    for number in range(TWIN + 1):
        if all(abs(m - c) < 6 for m, c in zip(mean, colour_of(number), strict=True)):
            return number
    return None


def photo(number: int) -> bytes:
    """A flat photograph of its number's colour; sizes vary so derivative sizes vary too."""
    size = (300 + number % 7 * 40, 240 + number % 5 * 30)
    out = io.BytesIO()
    Image.new("RGB", size, colour_of(number)).save(out, "JPEG", quality=92)
    return out.getvalue()


@pytest.fixture
def pg_app(tmp_path, redis_server, postgres_url):
    app = build_app(tmp_path / "data", REDIS_URL=redis_server.url, DATABASE_URL=postgres_url)
    app.config["SERVER_NAME"] = "localhost"
    yield app
    from tests.conftest import _dispose

    _dispose(app)


def _post(app, token: str, title: str, images: list[tuple[str, bytes]]) -> dict:
    client = app.test_client()  # one per thread, as separate browsers would be
    response = client.post(
        "/api/v1/stories",
        data={
            "metadata": json.dumps(story_metadata(title=title)),
            "images": [(io.BytesIO(data), name) for name, data in images],
        },
        headers={"Authorization": f"Bearer {token}"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 202, response.json
    return response.json


@pytest.mark.slow
def test_parallel_workers_give_every_image_exactly_its_own_derivatives(pg_app):
    from tests.conftest import create_user_now, issue_token_now
    from webapp.extensions import db
    from webapp.models import MediaAsset
    from webapp.services import backends

    app = pg_app
    with app.app_context():
        create_user_now("classe@example.org", "contributor", "long-password-1")
        create_user_now("famille@example.org", "contributor", "long-password-2")
        tokens = [issue_token_now("classe@example.org"), issue_token_now("famille@example.org")]

    started = time.perf_counter()
    expected: dict[int, int] = {}  # media id → number its pixels must show

    def submit_story(s: int) -> None:
        numbers = range(s * PER_STORY, (s + 1) * PER_STORY)
        body = _post(app, tokens[0], f"Story {s}", [(f"{n}.jpg", photo(n)) for n in numbers])
        expected.update(zip((m["id"] for m in body["media"]), numbers, strict=True))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(submit_story, range(STORIES)))

    # The same photograph, twice at the same moment, in two stories by two people.
    barrier = threading.Barrier(2)

    def submit_twin(i: int) -> dict:
        barrier.wait()
        return _post(app, tokens[i], f"Twin {i}", [("same.jpg", photo(TWIN))])

    with ThreadPoolExecutor(2) as pool:
        twins = list(pool.map(submit_twin, range(2)))
    for body in twins:
        expected[body["media"][0]["id"]] = TWIN
    submitted = time.perf_counter()

    queues = ["search,images"] + ["images"] * (WORKERS - 1)  # one index writer, as deployed
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "webapp.cli", "worker", "--burst", "--queues", q],
            env=worker_env(app),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for q in queues
    ]
    for worker in workers:
        out, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, f"worker failed:\n{out}\n{err}"
    derived = time.perf_counter()

    assert len(expected) == STORIES * PER_STORY + 2
    with app.app_context():
        store = backends.object_store()
        media = db.session.scalars(db.select(MediaAsset)).all()
        assert {m.id for m in media} == set(expected)
        recorded: set[str] = set()
        for item in media:
            assert item.state == "ready", (item.id, item.failure_reason)
            assert len(item.derivatives) >= 3
            for name, entry in item.derivatives.items():
                assert entry["key"].startswith(f"derivatives/{item.id}/"), entry
                image = Image.open(io.BytesIO(store.get(entry["key"])))
                image.load()
                assert image.size == (entry["width"], entry["height"]), (item.id, name)
                assert number_of(image) == expected[item.id], (item.id, name)
                recorded.add(entry["key"])
        # Nothing extra, nothing missing, and each original stored once.
        assert {o.key for o in store.list("derivatives/")} == recorded
        originals = [o.key for o in store.list("originals/")]
        assert len(originals) == STORIES * PER_STORY + 1
        twin_rows = [m for m in media if expected[m.id] == TWIN]
        assert len({m.original_key for m in twin_rows}) == 1
        assert len({m.story_id for m in twin_rows}) == 2
    print(
        f"\nsubmit {submitted - started:.1f}s, derive {len(expected)} images with {WORKERS} "
        f"workers {derived - submitted:.1f}s, check {time.perf_counter() - derived:.1f}s"
    )
