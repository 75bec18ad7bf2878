"""The fast paths of query evaluation give exactly what the plain paths give.

Two-word queries intersect doc sets before scoring, decoded posting lists are cached per
snapshot, and the page's top is taken from a score cutoff: none of this may change a total, a
score, an order or a facet count, and the cache may never serve postings of an older snapshot.
"""

from __future__ import annotations

import pytest

from tests.search.conftest import ids, story
from webapp.search import SearchIndex, SearchRequest, matching
from webapp.search.matching import Evaluator

WORDS = [
    "usine",
    "usines",
    "ouvrier",
    "ouvriers",
    "toutes",
    "tout",
    "toute",
    "pouvez",
    "pouvait",
    "travail",
    "travaillait",
    "factory",
    "factories",
    "worker",
    "workers",
    "working",
]

QUERIES = [
    "toutes usine",
    "pouvez ouvriers",
    "factory working",
    "toutes pouvez travail",
    "usine OR factory ouvrier",
    "toutes -usine",
    '"tout le" usine',
    "usin* toutes",
    "place:Ivry toutes",
]


def _corpus() -> list:
    stories = []
    for i in range(1, 61):
        words = [WORDS[(i * k) % len(WORDS)] for k in range(1, 9)]
        language = "en" if i % 3 == 0 else "fr"
        stories.append(
            story(
                i,
                f"Récit {i}",
                " ".join(words) + " tout le monde",
                language=language,
                places=["Ivry-sur-Seine" if i % 2 else "Vitry-sur-Seine"],
                themes=["travail"] if i % 4 else ["école"],
                period_start=1950 + i % 5 * 10,
            )
        )
    return stories


def _pages(index: SearchIndex) -> dict[str, tuple]:
    out = {}
    for q in QUERIES:
        page = index.search(SearchRequest(q=q, per_page=10))
        assert page.error is None, (q, page.error)
        facets = {n: [(v.value, v.count) for v in values] for n, values in page.facets.items()}
        out[q] = (
            page.total,
            [(hit.id, pytest.approx(hit.score, rel=1e-9)) for hit in page.hits],
            facets,
        )
    return out


def test_candidates_and_cache_change_nothing(index: SearchIndex, monkeypatch) -> None:
    index.upsert_many(_corpus())
    fast = _pages(index)
    assert any(total for total, _, _ in fast.values())

    index.close()
    monkeypatch.setattr(matching, "CACHE_MAX_POSTINGS", 0)
    monkeypatch.setattr(Evaluator, "_candidates", lambda self, groups: None)
    plain = _pages(index)
    assert plain == fast


def test_posting_cache_stays_within_its_bound(index: SearchIndex, monkeypatch) -> None:
    index.upsert_many(_corpus())
    monkeypatch.setattr(matching, "CACHE_MAX_POSTINGS", 100)
    for q in QUERIES:
        index.search(SearchRequest(q=q))
    with index._use_reader():  # noqa: SLF001 - the cache is internal to the snapshot
        snap = index._snapshot()  # noqa: SLF001
    assert 0 < snap.cached_postings <= 100
    assert snap.cached_postings == sum(
        len(found) + matching.CACHE_ENTRY_COST for found, _ in snap.posting_cache.values()
    )


def test_cache_never_serves_an_older_snapshot(index: SearchIndex) -> None:
    index.upsert_many(_corpus())
    assert 61 not in ids(index, "toutes usine", per_page=100)
    index.upsert(story(61, "Nouveau", "toutes les usines du quartier"))
    assert 61 in ids(index, "toutes usine", per_page=100)
    index.remove(61)
    assert 61 not in ids(index, "toutes usine", per_page=100)


def test_pages_with_equal_scores_are_ordered_by_story_id(index: SearchIndex) -> None:
    # Many equal scores: the cutoff keeps every tie, so pages stay stable and complete.
    index.upsert_many(story(i, "", "le même texte usine") for i in range(1, 41))
    seen = []
    for page in range(1, 9):
        seen.extend(ids(index, "usine", per_page=5, page=page))
    assert seen == list(range(1, 41))
