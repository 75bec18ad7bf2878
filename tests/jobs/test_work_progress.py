"""Long work shows its progress and its end: the jobs page and its JSON follow a re-derived
image from "to do" to "done"; exports and imports poll their own progress."""

from __future__ import annotations

from tests.conftest import PASSWORD, make_jpeg
from tests.jobs.conftest import fail_an_image_job


def _work_every_queue(app) -> None:
    """A real worker over every queue until all are empty."""
    from workers.context import use_app
    from workers.worker import _build_worker

    use_app(app)
    _build_worker(app, ["images", "search", "default"]).work(burst=True)


def _login(app, email: str):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code in (302, 303)
    return client


def test_a_rederived_image_is_followed_until_the_work_ends(redis_app, make_user_on, token_on):
    from webapp.extensions import db
    from webapp.models import MediaAsset
    from webapp.services import backends
    from workers.relay import relay_once

    make_user_on("admin", "admin@example.org")
    admin = _login(redis_app, "admin@example.org")
    failed = fail_an_image_job(redis_app, token_on, seed=6)

    admin.post("/admin/jobs/rederive", data={"media_id": str(failed.media_id)})
    waiting = admin.get("/admin/jobs/progress.json")
    assert waiting.headers["Cache-Control"] == "private, no-store"
    figures = waiting.get_json()
    assert figures["state"] == "working" and figures["pending_media"] == 1
    assert figures["unrelayed"] >= 1  # the re-derive request, and the submission's own events
    assert figures["outstanding"] == 1 + figures["unrelayed"] + figures["active_jobs"]
    page = admin.get("/admin/jobs/").text
    assert 'data-progress-url="/admin/jobs/progress.json" data-state="working"' in page
    assert "1 image(s) à traiter" in page and '<progress id="work-progress"' in page
    assert "/static/live-progress.js" in page

    with redis_app.app_context():
        media = db.session.get(MediaAsset, failed.media_id)
        backends.object_store().put(media.original_key, make_jpeg(seed=6), "image/jpeg")
        while relay_once():
            pass
    queued = admin.get("/admin/jobs/progress.json").get_json()
    assert queued["unrelayed"] == 0 and queued["active_jobs"] >= 1 and queued["state"] == "working"
    for _ in range(5):  # jobs emit events of their own (media.derived…): relay and work again
        _work_every_queue(redis_app)
        with redis_app.app_context():
            while relay_once():
                pass
    done = admin.get("/admin/jobs/progress.json").get_json()
    [rederive] = done.pop("jobs")
    assert done == {"state": "idle", "pending_media": 0, "active_jobs": 0, "unrelayed": 0,
                    "outstanding": 0}  # fmt: skip
    assert (rederive["key"], rederive["percent"], rederive["state_label"]) == (
        "rederive",
        100,
        "terminé",
    )
    assert "tout le travail est terminé" in admin.get("/admin/jobs/").text


def test_work_progress_is_for_staff_only(redis_app, make_user_on):
    make_user_on("archivist", "archivist@example.org")
    make_user_on("teacher", "teacher@example.org")
    assert (
        _login(redis_app, "archivist@example.org").get("/admin/jobs/progress.json").status_code
        == 200
    )
    assert (
        _login(redis_app, "teacher@example.org").get("/admin/jobs/progress.json").status_code == 403
    )
    assert redis_app.test_client().get("/admin/jobs/progress.json").status_code in (302, 401)
