"""``/admin/jobs``: admins see failed work and can retry it or have failed images derived again."""

from __future__ import annotations

import pytest
from rq.registry import FailedJobRegistry

from tests.conftest import PASSWORD, _dispose, build_app, make_jpeg
from tests.jobs.conftest import fail_an_image_job, work_images


def _login(app, email: str):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    return client


@pytest.fixture
def admin(redis_app, make_user_on):
    make_user_on("admin", "admin@example.org")
    return _login(redis_app, "admin@example.org")


def test_staff_see_the_jobs_page_and_only_admins_act(redis_app, admin, make_user_on) -> None:
    make_user_on("archivist", "archivist@example.org")
    archivist = _login(redis_app, "archivist@example.org")
    anonymous = redis_app.test_client()

    page = admin.get("/admin/jobs/")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Tâches d’arrière-plan" in html  # French is the default interface language
    assert 'href="/admin/jobs/"' in admin.get("/admin/").get_data(as_text=True)
    assert archivist.get("/admin/jobs/").status_code == 200  # archivists follow their jobs
    assert archivist.post("/admin/jobs/retry", data={"all": "1"}).status_code == 403
    assert archivist.post("/admin/jobs/rederive", data={"all": "1"}).status_code == 403
    refused = anonymous.get("/admin/jobs/")
    assert refused.status_code in (302, 401, 403) and "Tâches" not in refused.get_data(True)
    assert anonymous.post("/admin/jobs/purge", data={}).status_code in (302, 401, 403)


def test_a_failed_job_is_shown_and_retry_moves_it_back_to_its_queue(
    redis_app, admin, token_on
) -> None:
    from webapp.services import backends

    failed = fail_an_image_job(redis_app, token_on)
    html = admin.get("/admin/jobs/").get_data(as_text=True)
    assert failed.job_id in html
    assert "ObjectNotFound: no object" in html  # the job's error
    assert "no object" in html.split('id="failed-media"')[1]  # the image's reason

    retried = admin.post("/admin/jobs/retry", data={"job_id": failed.job_id})
    again = admin.post("/admin/jobs/retry", data={"job_id": failed.job_id}, follow_redirects=True)

    assert retried.status_code == 303
    with redis_app.app_context():
        queue = backends.queue("images")
        assert queue.get_job_ids() == [failed.job_id]
        assert FailedJobRegistry(queue=queue).get_job_ids() == []
    assert "n’est pas en échec : il n’y a rien à relancer" in again.get_data(as_text=True)


def test_rederive_emits_the_event_and_the_image_is_pending_then_ready(
    redis_app, admin, token_on
) -> None:
    from webapp.extensions import db
    from webapp.models import AuditEntry, MediaAsset, OutboxEvent
    from webapp.services import backends
    from workers.relay import relay_once

    failed = fail_an_image_job(redis_app, token_on, seed=5)

    done = admin.post(
        "/admin/jobs/rederive", data={"media_id": str(failed.media_id)}, follow_redirects=True
    )
    twice = admin.post(
        "/admin/jobs/rederive", data={"media_id": str(failed.media_id)}, follow_redirects=True
    )

    assert done.status_code == 200
    assert "1 image sera de nouveau traitée" in done.get_data(as_text=True)
    with redis_app.app_context():
        media = db.session.get(MediaAsset, failed.media_id)
        assert (media.state, media.failure_reason) == ("pending", None)
        events = db.session.scalars(
            db.select(OutboxEvent).where(OutboxEvent.event_type == "media.rederive_requested")
        ).all()
        assert [e.payload for e in events] == [
            {"story_id": failed.story_id, "media_ids": [failed.media_id]}
        ]
        entry = db.session.scalars(
            db.select(AuditEntry).where(AuditEntry.action == "media.rederive_requested")
        ).one()
        assert entry.subject_id == failed.media_id and "no object" in entry.note
        # The original comes back (restored from a backup, say): the work now succeeds.
        backends.object_store().put(media.original_key, make_jpeg(seed=5), "image/jpeg")
        while relay_once():
            pass
    assert f"L’image {failed.media_id} n’est pas (ou plus) une image en échec" in twice.get_data(
        as_text=True
    )
    work_images(redis_app)
    with redis_app.app_context():
        db.session.remove()
        assert db.session.get(MediaAsset, failed.media_id).state == "ready"
    assert "Aucune image n’est en échec" in admin.get("/admin/jobs/").get_data(as_text=True)


def test_purge_from_the_page_and_bad_input_is_said(redis_app, admin, token_on) -> None:
    from webapp.services import backends

    fail_an_image_job(redis_app, token_on)

    kept = admin.post("/admin/jobs/purge", data={"older_than_days": "7"}, follow_redirects=True)
    wrong = admin.post("/admin/jobs/purge", data={"older_than_days": "soon"}, follow_redirects=True)
    purged = admin.post("/admin/jobs/purge", data={"older_than_days": "0"}, follow_redirects=True)

    assert "0 tâche en échec supprimée" in kept.get_data(as_text=True)
    assert "Indiquez l’âge en jours" in wrong.get_data(as_text=True)
    assert "1 tâche en échec supprimée" in purged.get_data(as_text=True)
    with redis_app.app_context():
        assert len(FailedJobRegistry(queue=backends.queue("images"))) == 0


def test_buttons_need_the_form_token(tmp_path, redis_server) -> None:
    app = build_app(tmp_path / "data", REDIS_URL=redis_server.url, WTF_CSRF_ENABLED=True)
    try:
        with app.app_context():
            from tests.conftest import create_user_now

            create_user_now("admin@example.org", "admin", PASSWORD)
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        client.post(
            "/login", data={"email": "admin@example.org", "password": PASSWORD, "csrf_token": token}
        )
        assert client.get("/admin/jobs/").status_code == 200
        assert client.post("/admin/jobs/rederive", data={"all": "1"}).status_code == 400
    finally:
        _dispose(app)


def test_the_page_says_when_redis_cannot_be_reached(tmp_path) -> None:
    from tests.conftest import create_user_now
    from tests.service_processes import free_port

    app = build_app(tmp_path / "data", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    try:
        with app.app_context():
            create_user_now("admin@example.org", "admin", PASSWORD)
        page = _login(app, "admin@example.org").get("/admin/jobs/")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "Redis ne répond pas" in html
        assert "Aucune image n’est en échec" in html  # the database part still shows
    finally:
        _dispose(app)
