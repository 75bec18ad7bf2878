"""Facet counts over the whole result set, combined filters, sorting and stable pagination."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from tests.search.conftest import story
from webapp.search import FACET_NAMES, SearchIndex, SearchRequest, StoryDocument
from webapp.search import facets as facets_module

PLACES = ["Ivry-sur-Seine", "Vitry-sur-Seine", "Créteil", "Saint-Denis", "Montreuil", "Paris"]
THEMES = ["travail", "famille", "école", "logement", "musique"]
ORGS = ["Association A", "Association B", "Collège Wallon", None]
COLLECTIONS = ["Usines", "Écoles", "Fêtes"]
WORDS = [
    "usine",
    "école",
    "marché",
    "famille",
    "voyage",
    "lettre",
    "photo",
    "fête",
    "quartier",
    "train",
    "bateau",
]
STATUSES = ["published"] * 4 + ["submitted", "rejected", "withdrawn"]


def random_corpus(n: int, seed: int = 7) -> list[StoryDocument]:
    rng = random.Random(seed)
    docs = []
    for i in range(1, n + 1):
        start = rng.randint(1940, 2010)
        docs.append(
            story(
                i,
                f"Histoire {i}",
                " ".join(rng.choices(WORDS, k=rng.randint(5, 30))),
                language=rng.choice(["fr", "fr", "en", "ar"]),
                places=sorted(set(rng.choices(PLACES, k=rng.randint(1, 2)))),
                period_start=start,
                period_end=start + rng.choice([0, 3, 12]),
                themes=sorted(set(rng.choices(THEMES, k=rng.randint(0, 2)))),
                organisation=rng.choice(ORGS),
                collections=sorted(set(rng.sample(COLLECTIONS, rng.randint(0, 2)))),
                status=rng.choice(STATUSES),
                kind="document" if i % 5 == 0 else "story",
            )
        )
    return docs


def brute_force_facets(docs: list[StoryDocument]) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = {name: Counter() for name in FACET_NAMES}
    for d in docs:
        counts["kind"].update([d.kind])
        counts["place"].update(d.places)
        counts["theme"].update(d.themes)
        counts["language"].update([d.language])
        counts["collection"].update(d.collections)
        if d.organisation:
            counts["organisation"].update([d.organisation])
        assert d.period_start is not None and d.period_end is not None
        first, last = d.period_start - d.period_start % 10, d.period_end - d.period_end % 10
        counts["decade"].update(str(y) for y in range(first, last + 1, 10))
    return counts


def as_counter(page_facets: dict) -> dict[str, Counter[str]]:
    return {
        name: Counter({f.value: f.count for f in values}) for name, values in page_facets.items()
    }


@pytest.fixture(scope="module")
def docs() -> list[StoryDocument]:
    return random_corpus(400)


@pytest.fixture
def corpus(index: SearchIndex, docs: list[StoryDocument]) -> SearchIndex:
    index.upsert_many(docs[:200])
    index.upsert_many(docs[200:])  # two segments: counts must add up across them
    return index


@pytest.mark.parametrize("counting", ["by combination", "value by value", "new process"])
@pytest.mark.parametrize("word", ["usine", "train", ""])
def test_facet_counts_equal_a_brute_force_count_over_all_matches(
    corpus: SearchIndex,
    index_path: Path,
    docs: list[StoryDocument],
    word: str,
    counting: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every way a count is made gives the same figures: per combination code (few distinct
    combinations), value by value (many, as places at 100,000 stories), and in a new process
    that read the segments' decoded files instead of decoding them."""
    expected_docs = [
        d for d in docs if d.status == "published" and (not word or word in d.body.split())
    ]
    searcher = corpus
    if counting == "value by value":
        monkeypatch.setattr(facets_module, "MAX_CODED_COMBOS", 1)
    elif counting == "new process":
        corpus.search(SearchRequest(q="usine"))  # writes the decoded files
        searcher = SearchIndex(index_path)
    try:
        page = searcher.search(SearchRequest(q=word, per_page=5))
    finally:
        if searcher is not corpus:
            searcher.close()
    assert page.total == len(expected_docs)
    assert len(page.hits) == 5
    assert as_counter(page.facets) == brute_force_facets(expected_docs)


def test_filters_combine_and_each_facet_ignores_its_own_filter(
    corpus: SearchIndex, docs: list[StoryDocument]
) -> None:
    filters = {"place": ["Créteil", "Paris"], "theme": ["famille"], "decade": ["1970"]}
    page = corpus.search(SearchRequest(q="usine", filters=filters, per_page=100))

    def decades(d: StoryDocument) -> set[str]:
        assert d.period_start is not None and d.period_end is not None
        return {str(y) for y in range(d.period_start - d.period_start % 10, d.period_end + 1, 10)}

    def keep(d: StoryDocument, skip: str = "") -> bool:
        return (
            d.status == "published"
            and "usine" in d.body.split()
            and (skip == "place" or bool(set(d.places) & {"Créteil", "Paris"}))
            and (skip == "theme" or "famille" in d.themes)
            and (skip == "decade" or "1970" in decades(d))
        )

    expected = {d.id for d in docs if keep(d)}
    assert page.total == len(expected)
    assert {h.id for h in page.hits} == expected
    counts = as_counter(page.facets)
    # The place facet is counted as if no place were selected, so people can add one.
    assert counts["place"] == brute_force_facets([d for d in docs if keep(d, "place")])["place"]
    assert counts["language"] == brute_force_facets([d for d in docs if keep(d)])["language"]


def test_sort_by_period_orders_by_start_year(corpus: SearchIndex) -> None:
    page = corpus.search(SearchRequest(q="école", sort="period", per_page=50))
    starts = [h.period_start for h in page.hits]
    assert starts == sorted(starts)


@pytest.mark.parametrize("sort", ["relevance", "period"])
def test_pages_are_stable_and_do_not_overlap(corpus: SearchIndex, sort: str) -> None:
    seen: list[int] = []
    total = corpus.search(SearchRequest(q="photo", sort=sort)).total
    for page_number in range(1, total // 7 + 2):
        page = corpus.search(SearchRequest(q="photo", sort=sort, page=page_number, per_page=7))
        again = corpus.search(SearchRequest(q="photo", sort=sort, page=page_number, per_page=7))
        assert [h.id for h in page.hits] == [h.id for h in again.hits]
        seen.extend(h.id for h in page.hits)
    assert len(seen) == len(set(seen)) == total


def test_language_filter_accepts_full_tags(index: SearchIndex) -> None:
    index.upsert_many(
        [story(1, "a", "mot", language="zh-Hans"), story(2, "b", "mot", language="fr-FR")]
    )
    page = index.search(SearchRequest(q="mot", filters={"language": ["zh"]}))
    assert [h.id for h in page.hits] == [1]
