"""The public never sees, nor counts, a story that is not published."""

from __future__ import annotations

import pytest

from tests.search.conftest import ids, story
from webapp.search import SearchIndex, SearchRequest

UNPUBLISHED = ["submitted", "approved", "in_review", "rejected", "withdrawn", "Published ", ""]


@pytest.fixture
def corpus(index: SearchIndex) -> SearchIndex:
    index.upsert(story(1, "Publiée", "usine secrète", places=["Ivry"], themes=["travail"]))
    index.upsert_many(
        story(10 + i, "Cachée", "usine secrète", places=["Nanterre"], themes=["secret"], status=s)
        for i, s in enumerate(UNPUBLISHED)
    )
    return index


def test_unpublished_story_never_appears_in_public_search(corpus: SearchIndex) -> None:
    for q in ["usine", "cachée", "", "place:Nanterre", "secrète -publiée", "status:submitted"]:
        for filters in [{}, {"status": ["submitted", "withdrawn"]}, {"place": ["Nanterre"]}]:
            page = corpus.search(SearchRequest(q=q, filters=filters))
            assert {h.id for h in page.hits} <= {1}
            assert page.total <= 1
            places = {f.value for f in page.facets.get("place", [])}
            themes = {f.value for f in page.facets.get("theme", [])}
            assert "Nanterre" not in places and "secret" not in themes


def test_public_count_ignores_unpublished(corpus: SearchIndex) -> None:
    assert corpus.count(public=True) == 1
    assert corpus.count(public=False) == 1 + len(UNPUBLISHED)


def test_archivists_search_every_status_and_can_filter_by_it(corpus: SearchIndex) -> None:
    page = corpus.search(SearchRequest(q="usine", public=False, per_page=50))
    assert page.total == 1 + len(UNPUBLISHED)
    page = corpus.search(SearchRequest(q="usine", public=False, filters={"status": ["withdrawn"]}))
    assert [h.id for h in page.hits] == [10 + UNPUBLISHED.index("withdrawn")]


def test_withdrawal_hides_a_story_at_the_next_search(corpus: SearchIndex) -> None:
    assert ids(corpus, "publiée") == [1]
    corpus.upsert(story(1, "Publiée", "usine secrète", status="withdrawn"))
    assert ids(corpus, "publiée") == []
    assert corpus.count() == 0
