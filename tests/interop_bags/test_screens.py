"""The curation screen: archivists start an export or an import, follow its progress (a page that
refreshes itself, or JSON to poll), download the bag, read every problem of a file in their
language, and confirm the import; jobs do the work from the run's id."""

from __future__ import annotations

import io
import zipfile

import bagit
import pytest

from tests.conftest import make_jpeg
from tests.interop_bags.conftest import unpack
from tests.interop_bags.test_import import HEADER, row, story_count, write_csv


@pytest.fixture
def jobs(app):
    """Run a job function as the worker would (in its own app context)."""
    from workers.context import use_app

    use_app(app)
    import workers.transfers

    return workers.transfers


def outbox(app, event_type: str) -> list[dict]:
    from webapp.extensions import db
    from webapp.models import OutboxEvent

    with app.app_context():
        return [
            e.payload
            for e in db.session.scalars(
                db.select(OutboxEvent).where(OutboxEvent.event_type == event_type)
            )
        ]


def test_only_archivists_reach_the_screen_and_only_admins_export_originals(client, login):
    assert client.get("/curation/transfers").status_code in (302, 401)
    login("contributor")
    assert client.get("/curation/transfers").status_code == 403
    login("archivist")
    page = client.get("/curation/transfers")
    assert page.status_code == 200 and 'name="originals"' not in page.text
    refused = client.post("/curation/exports", data={"originals": "yes"})
    assert refused.status_code == 403
    login("admin")
    assert 'name="originals"' in client.get("/curation/transfers").text


def test_export_from_the_screen_runs_as_a_job_and_offers_the_bag(
    app, client, login, story, derive, jobs, tmp_path
):
    story(1, title="Le marché de Vitry")
    derive()
    login("archivist")
    response = client.post("/curation/exports", data={"collection": ""})
    assert response.status_code == 302
    status_url = response.headers["Location"]
    (event,) = outbox(app, "export.requested")  # the work leaves through the outbox
    waiting = client.get(status_url)
    # The page follows progress by itself: polled JSON with a script, a refresh without one.
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in waiting.text
    assert f'data-progress-url="{status_url}/progress.json" data-state="requested"' in waiting.text
    assert "/static/live-progress.js" in waiting.text
    assert client.get(f"{status_url}/progress.json").get_json()["state"] == "requested"

    name = jobs.build_export(event["export_id"])
    assert jobs.build_export(event["export_id"]) == name  # idempotent: done once

    progress = client.get(f"{status_url}/progress.json").get_json()
    assert progress["state"] == "ready" and progress["done"] == progress["total"] == 1
    page = client.get(status_url)
    assert progress["download_url"] in page.text and "refresh" not in page.text
    assert "live-progress.js" not in page.text  # the end: nothing polls any more
    download = client.get(progress["download_url"])
    assert download.status_code == 200 and download.mimetype == "application/zip"
    (tmp_path / "bag.zip").write_bytes(download.data)
    bagit.Bag(str(unpack(tmp_path / "bag.zip", tmp_path / "u"))).validate()
    with app.app_context():
        from webapp.services import transfers

        assert (transfers.exports_folder() / name).is_file()


def _upload(client, csv_bytes: bytes, images: bytes | None = None, **form: str):
    data = {"table": (io.BytesIO(csv_bytes), "stories.csv"), "as_status": "submitted", **form}
    if images is not None:
        data["images"] = (io.BytesIO(images), "images.zip")
    return client.post("/curation/imports", data=data, content_type="multipart/form-data")


def test_an_uploaded_file_with_problems_lists_them_all_in_french_and_imports_nothing(
    app, client, login, jobs, tmp_path
):
    login("archivist")
    source = write_csv(
        tmp_path / "s.csv",
        [row("E-1", "Licence", licence="GPL"), row("E-2", "Image", "absente.jpg")],
    )
    response = _upload(client, source.read_bytes())
    assert response.status_code == 302
    (event,) = outbox(app, "import.requested")
    assert event["step"] == "check"
    assert jobs.run_import(event["import_id"], "check") == "invalid"
    page = client.get(response.headers["Location"]).text
    assert "Rien n’a été importé" in page or "Rien n'a été importé" in page
    assert "licence inconnue" in page.lower() and "absente.jpg" in page
    progress = client.get(
        response.headers["Location"] + "/progress.json", headers={"Accept-Language": "fr"}
    ).get_json()
    said = {(p["row"], p["column"]): p["message"] for p in progress["problems"]}
    assert len(said) == 2
    assert any("licence inconnue" in m.lower() for m in said.values())  # the page's words
    assert all("%(" not in m for m in said.values())  # parameters filled in, not an id
    assert client.post(response.headers["Location"] + "/start").status_code == 302
    assert story_count(app) == 0  # an invalid import cannot be started


def test_a_clean_upload_is_checked_then_imported_row_by_row_with_progress(
    app, client, login, jobs, tmp_path
):
    login("archivist")
    images = io.BytesIO()
    with zipfile.ZipFile(images, "w") as archive:
        archive.writestr("photos/a.jpg", make_jpeg(seed=2))
    source = write_csv(
        tmp_path / "s.csv",
        [row("F-1", "Au foyer", "photos/a.jpg"), row("F-2", "À la gare")],
        header=HEADER,
    )
    response = _upload(client, source.read_bytes(), images.getvalue(), as_status="published")
    status_url = response.headers["Location"]
    (check,) = outbox(app, "import.requested")
    assert jobs.run_import(check["import_id"], "check") == "checked"
    assert story_count(app) == 0  # checking writes no story
    page = client.get(status_url).text
    assert "/start" in page

    assert client.post(status_url + "/start").status_code == 302
    start = outbox(app, "import.requested")[-1]
    assert start == {"import_id": check["import_id"], "step": "import"}
    assert jobs.run_import(start["import_id"], "import") == "done"
    progress = client.get(status_url + "/progress.json").get_json()
    assert progress | {"problems": []} == {
        "id": check["import_id"],
        "state": "done",
        "total": 2,
        "done": 2,
        "created": 2,
        "skipped": 0,
        "error": None,
        "error_code": None,
        "problems": [],
    }
    assert story_count(app) == 2
    assert jobs.run_import(start["import_id"], "import") == "done"  # a redelivery: nothing new
    assert story_count(app) == 2


def test_a_hostile_zip_sent_on_the_screen_is_refused_with_its_reason(
    app, client, login, jobs, tmp_path
):
    login("archivist")
    images = io.BytesIO()
    with zipfile.ZipFile(images, "w") as archive:
        archive.writestr("../../etc/evil.jpg", make_jpeg())
    source = write_csv(tmp_path / "s.csv", [row("H-1", "Récit", "evil.jpg")])
    response = _upload(client, source.read_bytes(), images.getvalue())
    (event,) = outbox(app, "import.requested")
    assert jobs.run_import(event["import_id"], "check") == "invalid"
    page = client.get(response.headers["Location"]).text
    assert "chemin dangereux" in page and "../../etc/evil.jpg" in page
    assert story_count(app) == 0
    assert not (tmp_path / "etc").exists()


def test_uploaded_imports_and_old_exports_are_pruned_after_their_keeping_age(
    app, client, login, jobs, tmp_path
):
    import os
    import time

    from webapp.services import transfers
    from workers.maintenance import _prune_exports, _prune_imports

    login("archivist")
    source = write_csv(tmp_path / "s.csv", [row("P-1", "Récit")])
    _upload(client, source.read_bytes())
    with app.app_context():
        (staged,) = list(transfers.imports_folder().iterdir())
        old = time.time() - 15 * 86400
        os.utime(staged, (old, old))
        cutoff = time.time() - 14 * 86400
        assert _prune_imports(cutoff) == 1 and not staged.exists()
        assert _prune_exports(cutoff) == 0


def test_a_job_the_worker_gave_up_says_so_and_the_import_resumes_from_the_screen(
    app, client, login, jobs, tmp_path
):
    login("archivist")
    source = write_csv(tmp_path / "s.csv", [row("R-1", "Un"), row("R-2", "Deux")])
    status_url = _upload(client, source.read_bytes()).headers["Location"]
    (check,) = outbox(app, "import.requested")
    jobs.run_import(check["import_id"], "check")
    client.post(status_url + "/start")
    jobs.import_gave_up(check["import_id"], "stopped by the time limit")  # as the worker does
    page = client.get(status_url).text
    assert "stopped by the time limit" in page and "Reprendre" in page
    assert client.post(status_url + "/start").status_code == 302
    resume = outbox(app, "import.requested")[-1]
    assert jobs.run_import(resume["import_id"], resume["step"]) == "done"
    assert story_count(app) == 2

    client.post("/curation/exports", data={"collection": ""})
    (export,) = outbox(app, "export.requested")
    jobs.export_gave_up(export["export_id"], "gave up after repeated failures: storage down")
    progress = client.get(f"/curation/exports/{export['export_id']}/progress.json").get_json()
    assert progress["state"] == "failed" and "storage down" in progress["error"]
    assert progress["download_url"] is None
