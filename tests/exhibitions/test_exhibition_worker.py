"""The whole path with real processes: events in the outbox, the relay, Redis, a worker.

The quick tests call the job functions in this process; this one proves the relay routes the
events to them and a real ``passages worker`` builds, rebuilds and drops the PDFs.
"""

from __future__ import annotations

import io

import pypdf
import pytest

from tests.conftest import _dispose, build_app, make_jpeg, run_worker_burst_process


@pytest.fixture
def redis_app(tmp_path, redis_server):
    app = build_app(tmp_path / "data", REDIS_URL=redis_server.url)
    yield app
    _dispose(app)


@pytest.mark.slow
def test_a_worker_builds_the_exhibition_and_rebuilds_it_without_a_withdrawn_story(redis_app):
    from tests.exhibitions.conftest import Helpers
    from webapp.services import review
    from workers.context import use_app

    use_app(redis_app)
    exhibit = Helpers(redis_app)
    client = redis_app.test_client()
    kept = exhibit.story("Le marché de Vitry", [make_jpeg(1200, 800)])
    withdrawn = exhibit.story("Une histoire retirée")
    slug = exhibit.collection("Mémoires", [kept, withdrawn])

    assert client.get(f"/collections/{slug}/exhibition.pdf").status_code == 202
    run_worker_burst_process(redis_app)
    response = client.get(f"/collections/{slug}/exhibition.pdf?format=booklet")
    assert response.status_code == 200
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(response.data)).pages)
    assert "Le marché de Vitry" in text and "Une histoire retirée" in text

    exhibit.act(review.withdraw, withdrawn, "à la demande de la famille")
    assert client.get(f"/collections/{slug}/exhibition.pdf").status_code == 202
    run_worker_burst_process(redis_app)  # story.withdrawn → story_changed → a new build
    response = client.get(f"/collections/{slug}/exhibition.pdf")
    assert response.status_code == 200
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(response.data)).pages)
    assert "Le marché de Vitry" in text and "Une histoire retirée" not in text
    assert len(exhibit.objects()) == 2  # the old PDFs are gone from the store
