"""With real processes: the export and import jobs run in ``passages worker`` after the relay, the
imported stories get their derivatives and index entries from the workers, and an import killed
half-way resumes on the next run without a duplicate or a half-made story."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import zipfile

import pytest

from tests.conftest import REPO, make_jpeg, worker_env
from tests.interop_bags.test_import import row, write_csv
from tests.interop_bags.test_screens import _upload, outbox

pytestmark = pytest.mark.slow


def test_export_and_import_jobs_run_in_the_worker_and_images_follow(
    app, client, login, story, derive, run_worker_burst, tmp_path
):
    from webapp.extensions import db
    from webapp.models import ExportRun, ImportRun, MediaAsset, Story
    from webapp.search import SearchRequest
    from webapp.services import backends

    story(1, title="Exportée")
    derive()
    login("archivist")
    client.post("/curation/exports", data={"collection": ""})

    images = io.BytesIO()
    with zipfile.ZipFile(images, "w") as archive:
        archive.writestr("a.jpg", make_jpeg(seed=9))
    source = write_csv(tmp_path / "s.csv", [row("W-1", "Importée par le worker", "a.jpg")])
    status = _upload(client, source.read_bytes(), images.getvalue(), as_status="published")
    run_worker_burst(app)  # relays export.requested and import.requested (check), runs both
    assert client.post(status.headers["Location"] + "/start").status_code == 302
    run_worker_burst(app)  # the import, then the derivatives and index of what it created

    with app.app_context():
        export = db.session.scalar(db.select(ExportRun))
        assert export.state == "ready" and export.total == 1
        run = db.session.scalar(db.select(ImportRun))
        assert (run.state, run.created) == ("done", 1)
        imported = db.session.scalar(db.select(Story).where(Story.import_key == "id:W-1"))
        assert imported.status == "published"
        media = db.session.scalar(db.select(MediaAsset).where(MediaAsset.story_id == imported.id))
        assert media.state == "ready" and "thumb" in media.derivatives
        page = backends.search_index().search(SearchRequest(q="worker"))
    assert [h.id for h in page.hits] == [imported.id]
    assert len(outbox(app, "import.requested")) == 2


def _count(app) -> tuple[int, int]:
    from webapp.extensions import db
    from webapp.models import Story

    with app.app_context():
        db.session.remove()
        stories = db.session.scalar(db.select(db.func.count()).select_from(Story))
        keys = db.session.scalar(
            db.select(db.func.count(db.distinct(Story.import_key))).where(
                Story.import_key.is_not(None)
            )
        )
        return stories, keys


def test_an_import_killed_half_way_resumes_without_duplicates(app, make_user, tmp_path):
    make_user("admin")
    images = tmp_path / "images"
    images.mkdir()
    rows = []
    for n in range(60):
        (images / f"{n}.jpg").write_bytes(make_jpeg(1200, 900, seed=n))
        rows.append(row(f"K-{n}", f"Récit {n}", f"{n}.jpg"))
    source = write_csv(tmp_path / "big.csv", rows)
    command = [sys.executable, "-m", "webapp.cli", "import", str(source), "--images", str(images)]
    env = worker_env(app)

    first = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while _count(app)[0] < 5 and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.02)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    stories, keys = _count(app)
    assert 5 <= stories < 60, "the import must be killed half-way for this test to mean anything"
    assert stories == keys  # every committed row is whole, none twice

    second = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert f"{60 - stories} stories created, {stories} rows already imported" in second.stdout
    assert _count(app) == (60, 60)
