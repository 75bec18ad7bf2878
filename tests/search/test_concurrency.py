"""Searches run side by side on immutable snapshots (issue 11.7): no process-wide search lock,
and the facet numbering a process keeps is bounded."""

from __future__ import annotations

import threading

import pytest

from tests.search.conftest import ids, story
from webapp.search import SearchIndex, SearchRequest
from webapp.search import facets as facets_module
from webapp.search.matching import Evaluator

ENTERED = threading.Event()
RELEASE = threading.Event()


class WaitingEvaluator(Evaluator):
    """Blocks the first search inside evaluation until released."""

    def evaluate(self, parsed):
        if not ENTERED.is_set():
            ENTERED.set()
            assert RELEASE.wait(30), "never released"
        return super().evaluate(parsed)


def test_a_search_answers_while_another_is_still_evaluating(index_path) -> None:
    ENTERED.clear()
    RELEASE.clear()
    index = SearchIndex(index_path)
    index.upsert_many([story(1, "Le marché", "usine"), story(2, "La gare", "gare")])
    index.evaluator_class = WaitingEvaluator
    slow: list[list[int]] = []
    first = threading.Thread(
        target=lambda: slow.append([h.id for h in index.search(SearchRequest(q="usine")).hits])
    )
    first.start()
    try:
        assert ENTERED.wait(30)
        # The first search is inside the evaluator; a second one must not wait for it.
        done: list[list[int]] = []
        second = threading.Thread(target=lambda: done.append(ids(index, "gare")))
        second.start()
        second.join(30)
        assert done == [[2]], "the second search waited for the first"
    finally:
        RELEASE.set()
        first.join(30)
    assert slow == [[1]]
    index.close()


def test_concurrent_searches_and_updates_give_consistent_answers(index: SearchIndex) -> None:
    index.upsert_many(story(i, f"Histoire {i}", "usine commune") for i in range(1, 41))
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(30):
                page = index.search(SearchRequest(q="usine", per_page=100))
                found = {h.id for h in page.hits}
                assert page.total == len(found) and set(range(1, 41)) <= found
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for n in range(41, 51):
        index.upsert(story(n, f"Nouvelle {n}", "usine"))
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert index.search(SearchRequest(q="usine", per_page=100)).total == 50


def test_the_facet_numbering_is_bounded_and_counts_stay_exact(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not hasattr(facets_module, "_COMBOS")  # no process-wide registry any more
    monkeypatch.setattr(facets_module, "MAX_REGISTRY_COMBOS", 12)
    for n in range(1, 31):  # thirty distinct theme combinations, one update each
        index.upsert(story(n, f"Histoire {n}", "usine", themes=[f"thème {n}", "commun"]))
        index.search(SearchRequest(q="usine"))
        assert len(index._codes.combos) <= 12 + 31  # noqa: SLF001 - bound + one segment's worth
    themes = {f.value: f.count for f in index.search(SearchRequest(q="usine")).facets["theme"]}
    assert themes["commun"] == 30 and themes["thème 7"] == 1


def test_short_lived_threads_reuse_readers_instead_of_piling_them_up(index: SearchIndex) -> None:
    index.upsert(story(1, "Le marché", "usine"))
    found: list[list[int]] = []
    for _ in range(40):  # as a threaded development server: one new thread per request
        thread = threading.Thread(target=lambda: found.append(ids(index, "usine")))
        thread.start()
        thread.join(30)
    assert found == [[1]] * 40
    assert len(index._idle) == 1  # noqa: SLF001 - one warm reader, reused by every thread
