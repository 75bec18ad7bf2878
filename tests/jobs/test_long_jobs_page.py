"""``/admin/jobs``: each long job shows how far it is in percent, live, and how it ended.

The figures come from where the jobs write them: the index rebuild's own counter (the function
``workers.search`` runs), the rows of exports, and the outbox events of a re-derivation.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD, make_jpeg
from tests.jobs.conftest import fail_an_image_job, work_images


@pytest.fixture
def admin(redis_app, make_user_on):
    make_user_on("admin", "admin@example.org")
    client = redis_app.test_client()
    client.post("/login", data={"email": "admin@example.org", "password": PASSWORD})
    return client


def _row(html: str, key: str) -> str:
    match = re.search(rf'<tr data-job="{key}".*?</tr>', html, re.DOTALL)
    assert match, f"no row for {key}"
    return re.sub(r"\s+", " ", match.group(0))


def _job(progress: dict, key: str) -> dict:
    [job] = [j for j in progress["jobs"] if j["key"] == key]
    return job


def test_a_half_done_reindex_shows_its_percentage_live_then_finished(
    redis_app, admin, monkeypatch
) -> None:
    from webapp.operations import long_jobs

    monkeypatch.setattr(long_jobs, "REPORT_EVERY", 0.0)
    with redis_app.app_context():
        stories = long_jobs.counting(iter(range(20)), 20)
        for _ in range(9):
            next(stories)
        next(stories)  # the ninth is counted once the tenth is asked for

    page = admin.get("/admin/jobs/").get_data(as_text=True)
    live = admin.get("/admin/jobs/progress.json").json

    row = _row(page, "reindex")
    assert "Reconstruction de l’index de recherche" in row
    assert "45 %" in row and "9 sur 20" in row and "en cours" in row
    assert '<progress max="20" value="9"' in row
    assert '<meta http-equiv="refresh"' in page  # without JavaScript the page refreshes
    assert "live-progress.js" in page  # with it, the page polls
    assert live["state"] == "working"
    reindex = _job(live, "reindex")
    assert (reindex["percent"], reindex["percent_label"], reindex["ended"]) == (45, "45 %", False)

    with redis_app.app_context():
        list(stories)
        long_jobs.reindex_ended(20)
    page = admin.get("/admin/jobs/").get_data(as_text=True)
    live = admin.get("/admin/jobs/progress.json").json

    row = _row(page, "reindex")
    assert "100 %" in row and "terminé" in row and 'data-job-ended="yes"' in row
    assert _job(live, "reindex")["state_label"] == "terminé"
    assert live["state"] == "idle"  # the script stops polling (it reloads the page once)
    assert '<meta http-equiv="refresh"' not in page  # nothing left to follow


def test_the_real_rebuild_reports_its_end(redis_app, admin, token_on) -> None:
    from tests.ops.conftest import add_story
    from workers.context import use_app
    from workers.search import rebuild_index

    for seed in (1, 2):
        add_story(redis_app, token_on, seed)
    use_app(redis_app)
    assert rebuild_index() == 2

    row = _row(admin.get("/admin/jobs/").get_data(as_text=True), "reindex")
    assert "100 %" in row and "2 sur 2" in row and "terminé" in row


def test_an_export_shows_its_percentage_and_how_it_ended(redis_app, admin) -> None:
    from webapp.extensions import db
    from webapp.models import ExportRun, utcnow

    with redis_app.app_context():
        run = ExportRun(state="running", done=1, total=4)
        db.session.add(run)
        db.session.commit()
        export_id = run.id

    row = _row(admin.get("/admin/jobs/").get_data(as_text=True), f"export-{export_id}")
    assert "25 %" in row and "en cours" in row

    with redis_app.app_context():
        run = db.session.get(ExportRun, export_id)
        run.state, run.finished_at = "failed", utcnow()
        run.error = 'job_timeout_after {"seconds": 600}'  # as the worker stores it
        db.session.commit()
    english = redis_app.test_client()
    english.set_cookie("lang", "en", domain="passages.test")
    english.post("/login", data={"email": "admin@example.org", "password": PASSWORD})

    row = _row(admin.get("/admin/jobs/").get_data(as_text=True), f"export-{export_id}")
    assert "échoué" in row and "le traitement a duré plus que les 600 s" in row
    assert "—" not in row.split("data-job-end")[1][:40]  # its end time is shown
    row = _row(english.get("/admin/jobs/").get_data(as_text=True), f"export-{export_id}")
    assert "failed" in row and "processing took longer than the 600 s a job may run" in row


def test_deriving_failed_images_again_shows_progress_then_its_end(
    redis_app, admin, token_on
) -> None:
    from workers.relay import relay_once

    failed = fail_an_image_job(redis_app, token_on)
    with redis_app.app_context():
        from webapp.extensions import db
        from webapp.models import MediaAsset
        from webapp.services import backends

        media = db.session.get(MediaAsset, failed.media_id)
        backends.object_store().put(media.original_key, make_jpeg(seed=3))  # found again

    admin.post("/admin/jobs/rederive", data={"media_id": str(failed.media_id)})
    row = _row(admin.get("/admin/jobs/").get_data(as_text=True), "rederive")
    assert "Nouvelle dérivation des images" in row and "0 %" in row and "en cours" in row

    with redis_app.app_context():
        relay_once()
    work_images(redis_app)
    page = admin.get("/admin/jobs/").get_data(as_text=True)

    row = _row(page, "rederive")
    assert "100 %" in row and "1 sur 1" in row and "terminé" in row
    assert _job(admin.get("/admin/jobs/progress.json").json, "rederive")["ended"] is True
