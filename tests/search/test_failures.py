"""A failed search is a failure, never "no results" (issue 11.3), and an index that does not
open is rebuilt by the search worker by itself while searches say so (issue 11.5).

The engine is made to fail for real: an index whose evaluator raises, and an index folder whose
table of contents is damaged on disk. Each failing probe has its positive control (the same
request answered by a working engine finds the story).
"""

from __future__ import annotations

import pytest

from webapp.search import SearchIndex
from webapp.search.matching import Evaluator


class BrokenEvaluator(Evaluator):
    def evaluate(self, parsed):
        raise ZeroDivisionError("evaluator bug")


class BrokenEvaluatorIndex(SearchIndex):
    """The real engine with its query evaluator broken, as a bug in it would be."""

    evaluator_class = BrokenEvaluator


def _break_engine(app) -> None:
    from webapp.services import backends

    with app.app_context():
        path = backends.settings().index_dir
        app.extensions["passages.backends"]["search"] = BrokenEvaluatorIndex(path)


def test_a_failing_engine_answers_503_not_an_empty_result(app, client, make_story) -> None:
    story_id = make_story("Le marché de Vitry")
    # Positive control: the working engine finds the story through the API and the page.
    ok = client.get("/api/v1/search?q=marché")
    assert ok.status_code == 200 and [r["id"] for r in ok.json["results"]] == [story_id]
    assert "Le marché de Vitry" in client.get("/search?q=marché").text

    _break_engine(app)
    api = client.get("/api/v1/search?q=marché")
    assert api.status_code == 503
    assert api.json["error"]["code"] == "search_unavailable"
    assert api.json["error"]["rebuilding"] is False
    assert "total" not in api.json

    page = client.get("/search?q=marché")
    assert page.status_code == 503
    assert "La recherche est indisponible" in page.text  # in the interface language
    assert "Aucune histoire" not in page.text and "0 histoire" not in page.text
    assert page.headers["Cache-Control"] == "no-store"

    # The rest of the site keeps working, and says what is missing.
    home = client.get("/")
    assert home.status_code == 200 and "Le marché de Vitry" in home.text
    assert "La recherche est indisponible" in home.text
    assert client.get(f"/stories/{story_id}", follow_redirects=True).status_code == 200


def test_the_english_page_says_search_is_unavailable(app, client, make_story) -> None:
    make_story("Le marché de Vitry")
    client.set_cookie("lang", "en", domain="passages.test")
    assert client.get("/search?q=marché").status_code == 200  # positive control
    _break_engine(app)
    page = client.get("/search?q=marché")
    assert page.status_code == 503
    assert "Search is unavailable right now" in page.text


def _damage_index(app) -> None:
    from webapp.services import backends

    with app.app_context():
        index = backends.search_index()
        folder = index.path / index._current_generation()  # noqa: SLF001
        tocs = list(folder.glob("*.toc"))
        assert tocs, "the index has a table of contents"
        for toc in tocs:
            toc.write_bytes(b"\x00garbage, not a Whoosh table of contents")


def test_an_index_that_does_not_open_says_it_is_being_rebuilt(app, client, make_story) -> None:
    story_id = make_story("Le marché de Vitry")
    assert client.get("/api/v1/search?q=marché").status_code == 200  # positive control
    _damage_index(app)
    # A fresh process (no searcher open yet) meets the damaged files.
    app.extensions["passages.backends"].pop("search").close()

    api = client.get("/api/v1/search?q=marché")
    assert api.status_code == 503
    assert api.json["error"] == {
        "code": "search_unavailable",
        "message": "the search index is being rebuilt; search will be back in a few minutes",
        "rebuilding": True,
    }
    page = client.get("/search?q=marché")
    assert page.status_code == 503 and "en cours de reconstruction" in page.text
    assert client.get(f"/stories/{story_id}", follow_redirects=True).status_code == 200
    assert client.get("/").status_code == 200


@pytest.mark.slow
def test_the_search_worker_rebuilds_an_unopenable_index_by_itself(
    app, client, make_story, run_worker_burst
) -> None:
    from workers.worker import queue_rebuild_if_unreadable

    story_id = make_story("Le marché de Vitry")
    make_story("Brouillon secret", status="draft", body="Un brouillon.")
    assert queue_rebuild_if_unreadable(app) is False  # healthy: nothing queued
    _damage_index(app)
    app.extensions["passages.backends"].pop("search").close()
    assert client.get("/api/v1/search?q=marché").status_code == 503

    # The worker's periodic check queues the rebuild (once), and the worker runs it.
    assert queue_rebuild_if_unreadable(app) is True
    assert queue_rebuild_if_unreadable(app) is False
    run_worker_burst(app, "--queues", "search")

    api = client.get("/api/v1/search?q=marché")
    assert api.status_code == 200
    assert [r["id"] for r in api.json["results"]] == [story_id]
    assert client.get("/api/v1/search?q=brouillon").json["total"] == 0
    assert queue_rebuild_if_unreadable(app) is False
