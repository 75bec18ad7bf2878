"""Archivists follow their long jobs on ``/admin/jobs``, and every job shows an end.

Archivists start the rebuilds, exports, imports and exhibitions, so they see the page and its
live figures; the buttons that act on the queues stay with administrators. A rebuild whose
process died without a word (SIGKILL, a power cut, RQ's hard time limit) stops being "in
progress" once it has been silent too long, and a rebuild that failed says why.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.conftest import PASSWORD


def _logged_in(app, make_user_on, role: str):
    email = f"{role}-follows@example.org"
    make_user_on(role, email)
    client = app.test_client()
    client.post("/login", data={"email": email, "password": PASSWORD})
    return client


def _row(html: str, key: str) -> str:
    match = re.search(rf'<tr data-job="{key}".*?</tr>', html, re.DOTALL)
    assert match, f"no row for {key}"
    return re.sub(r"\s+", " ", match.group(0))


def _reindex(live: dict) -> dict:
    [job] = [j for j in live["jobs"] if j["key"] == "reindex"]
    return job


def _in_english(client, url: str) -> dict:
    client.set_cookie("lang", "en", domain="passages.test")
    try:
        return client.get(url).json
    finally:
        client.delete_cookie("lang", domain="passages.test")


def _half_done_rebuild(app, monkeypatch, silent_for: float) -> None:
    """A rebuild that reported 38 of 100 stories, ``silent_for`` seconds ago."""
    from webapp.operations import long_jobs
    from webapp.services import backends

    monkeypatch.setattr(long_jobs, "REPORT_EVERY", 0.0)
    with app.app_context():
        stories = long_jobs.counting(iter(range(100)), 100)
        for _ in range(39):
            next(stories)
        key = long_jobs._key(long_jobs.REINDEX_KEY)
        backends.redis_connection().hset(key, "updated", time.time() - silent_for)


def _fail_an_image(app, token: str) -> None:
    from tests.ops.conftest import add_story
    from webapp.extensions import db
    from webapp.models import MediaAsset, MediaState

    story_id = add_story(app, token, 5)
    with app.app_context():
        media = db.session.scalars(db.select(MediaAsset).where(MediaAsset.story_id == story_id))
        for row in media:
            row.state, row.failure_reason = MediaState.FAILED.value, "fixity"
        db.session.commit()


def test_an_archivist_follows_a_rebuild_but_cannot_act_on_the_queues(
    redis_app, make_user_on, token_on, monkeypatch
) -> None:
    _half_done_rebuild(redis_app, monkeypatch, silent_for=0)
    _fail_an_image(redis_app, token_on)
    archivist = _logged_in(redis_app, make_user_on, "archivist")
    admin = _logged_in(redis_app, make_user_on, "admin")

    page = archivist.get("/admin/jobs/")
    live = archivist.get("/admin/jobs/progress.json")

    assert page.status_code == live.status_code == 200
    row = _row(page.get_data(as_text=True), "reindex")
    assert "38 %" in row and "38 sur 100" in row and "en cours" in row
    assert _reindex(live.json)["percent"] == 38
    assert "Tâches d’arrière-plan" in archivist.get("/curation/").get_data(as_text=True)
    # The actions stay an administrator's: no buttons, and a forged post is refused.
    assert 'action="/admin/jobs/' not in page.get_data(as_text=True)
    assert '<form method="post" action="/admin/jobs/rederive"' in admin.get(
        "/admin/jobs/"
    ).get_data(as_text=True)
    assert archivist.post("/admin/jobs/rederive", data={"all": "1"}).status_code == 403
    assert archivist.post("/admin/jobs/retry", data={"all": "1"}).status_code == 403
    assert archivist.post("/admin/jobs/purge", data={"older_than_days": "0"}).status_code == 403


@pytest.mark.parametrize("role", ["contributor", "teacher"])
def test_students_and_teachers_are_still_refused(redis_app, make_user_on, role) -> None:
    client = _logged_in(redis_app, make_user_on, role)

    assert client.get("/admin/jobs/").status_code == 403
    assert client.get("/admin/jobs/progress.json").status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(redis_app) -> None:
    client = redis_app.test_client()

    for url in ("/admin/jobs/", "/admin/jobs/progress.json"):
        answer = client.get(url)
        assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_a_rebuild_killed_mid_way_is_shown_stopped_not_running_for_ever(
    redis_app, make_user_on, monkeypatch
) -> None:
    from webapp.operations import long_jobs
    from webapp.services import backends

    _half_done_rebuild(redis_app, monkeypatch, silent_for=long_jobs.STOPPED_AFTER + 5)
    archivist = _logged_in(redis_app, make_user_on, "archivist")

    page = archivist.get("/admin/jobs/").get_data(as_text=True)
    live = archivist.get("/admin/jobs/progress.json").json
    english = _in_english(archivist, "/admin/jobs/progress.json")

    row = _row(page, "reindex")
    assert "échoué" in row and "en cours" not in row
    assert "a cessé de répondre" in row
    assert live.get("state") != "working"  # the page stops polling
    assert '<meta http-equiv="refresh"' not in page
    assert _reindex(live)["ended"] is True
    assert _reindex(english)["detail"].startswith("stopped answering")
    with redis_app.app_context():
        ttl = backends.redis_connection().ttl(long_jobs._key(long_jobs.REINDEX_KEY))
    assert 0 < ttl <= long_jobs.KEEP_FIGURES.total_seconds()  # a dead rebuild leaves no key


def test_a_rebuild_that_reported_recently_is_still_in_progress(
    redis_app, make_user_on, monkeypatch
) -> None:
    _half_done_rebuild(redis_app, monkeypatch, silent_for=10)
    archivist = _logged_in(redis_app, make_user_on, "archivist")

    live = archivist.get("/admin/jobs/progress.json").json

    assert _reindex(live)["state"] == "running" and live["state"] == "working"


def test_a_failed_rebuild_says_why(redis_app, make_user_on, monkeypatch) -> None:
    from webapp.services import indexing
    from workers.context import use_app
    from workers.search import rebuild_index

    def documents():
        raise OSError(28, "No space left on device")
        yield  # a generator, like the real one

    monkeypatch.setattr(indexing, "all_documents", documents)
    use_app(redis_app)
    with pytest.raises(OSError):
        rebuild_index()
    archivist = _logged_in(redis_app, make_user_on, "archivist")

    row = _row(archivist.get("/admin/jobs/").get_data(as_text=True), "reindex")
    english = _in_english(archivist, "/admin/jobs/progress.json")

    assert "échoué" in row
    assert "la reconstruction s’est arrêtée sur une erreur" in row
    assert "No space left on device" in row
    assert _reindex(english)["detail"].startswith("the rebuild stopped on an error")


def test_a_rebuild_refused_because_another_runs_leaves_the_running_one_shown(
    redis_app, make_user_on, monkeypatch
) -> None:
    from webapp.search.contract import IndexBusy
    from workers import search

    _half_done_rebuild(redis_app, monkeypatch, silent_for=0)

    class Busy:
        def rebuild(self, docs):
            raise IndexBusy("another rebuild of the search index is running")

    with redis_app.app_context(), pytest.raises(IndexBusy):
        search._rebuild(Busy())
    archivist = _logged_in(redis_app, make_user_on, "archivist")

    job = _reindex(archivist.get("/admin/jobs/progress.json").json)
    assert (job["state"], job["percent"]) == ("running", 38)
