"""The query language: AND by default, phrases, OR, exclusion, prefixes, fields, suggestions."""

from __future__ import annotations

import pytest

from tests.search.conftest import ids, story
from webapp.search import SearchIndex, SearchRequest


@pytest.fixture
def corpus(index: SearchIndex) -> SearchIndex:
    index.upsert_many(
        [
            story(
                1,
                "Portugais à Ivry",
                "Les Portugais de Champigny travaillaient au marché.",
                places=["Ivry-sur-Seine"],
                themes=["travail"],
            ),
            story(
                2,
                "Marché de Créteil",
                "Ma mère vendait des légumes au marché le dimanche.",
                places=["Créteil"],
                themes=["commerce"],
            ),
            story(
                3,
                "Immigration algérienne",
                "Mon oncle a immigré en 1962, immigration de masse.",
                places=["Ivry-sur-Seine"],
                themes=["exil"],
                period_start=1962,
            ),
            story(
                4,
                "Champigny",
                "Le bidonville de Champigny accueillait des Portugais.",
                places=["Champigny-sur-Marne"],
                themes=["logement"],
            ),
            story(
                5,
                "Immigrants",
                "Immigrants from Portugal worked at the market.",
                language="en",
                places=["Paris"],
            ),
        ]
    )
    return index


def test_words_must_all_match_by_default(corpus: SearchIndex) -> None:
    assert set(ids(corpus, "portugais marché")) == {1}


def test_or_widens(corpus: SearchIndex) -> None:
    assert set(ids(corpus, "légumes OR bidonville")) == {2, 4}


def test_minus_excludes(corpus: SearchIndex) -> None:
    assert set(ids(corpus, "portugais -bidonville")) == {1}
    assert set(ids(corpus, "portugais")) == {1, 4}


def test_quoted_phrase_needs_the_words_in_order(corpus: SearchIndex) -> None:
    assert set(ids(corpus, '"bidonville de champigny"')) == {4}
    assert ids(corpus, '"champigny de bidonville"') == []


def test_prefix_matches_the_start_of_words(corpus: SearchIndex) -> None:
    assert set(ids(corpus, "immigr*")) == {3, 5}


def test_place_field_syntax_searches_places_only(corpus: SearchIndex) -> None:
    # "Champigny" is in the text of 1 and 4 but the place of 4 only.
    assert set(ids(corpus, "place:champigny")) == {4}
    assert set(ids(corpus, "place:Ivry")) == {1, 3}


def test_theme_language_and_decade_fields(corpus: SearchIndex) -> None:
    assert set(ids(corpus, "theme:logement")) == {4}
    assert set(ids(corpus, "lang:en")) == {5}
    assert set(ids(corpus, "immigration decade:1960s")) == {3}


def test_misspelling_gets_a_did_you_mean(corpus: SearchIndex) -> None:
    page = corpus.search(SearchRequest(q="bidonvile"))
    assert page.total == 0
    assert page.suggestion == "bidonville"
    assert corpus.search(SearchRequest(q=page.suggestion)).total == 1


def test_a_query_that_finds_something_gets_no_suggestion(corpus: SearchIndex) -> None:
    assert corpus.search(SearchRequest(q="bidonville")).suggestion is None
    # Positive control: the same corpus does suggest for a near miss.
    assert corpus.search(SearchRequest(q="bidonvilel")).suggestion == "bidonville"


@pytest.mark.parametrize(
    "junk", ["!!!", "***", "-", '"', "a*", "((()))", "OR", "\x00\x01", "?" * 2000]
)
def test_junk_input_gives_a_friendly_message_not_an_error(corpus: SearchIndex, junk: str) -> None:
    page = corpus.search(SearchRequest(q=junk))
    assert page.total == 0
    assert page.hits == []
    assert page.error


def test_empty_query_lists_everything_with_a_hint(corpus: SearchIndex) -> None:
    page = corpus.search(SearchRequest(q="   "))
    assert page.total == 5
    assert page.error


def test_unknown_field_is_searched_as_words(corpus: SearchIndex) -> None:
    assert set(ids(corpus, "color:bidonville")) == set()
    # Like a hyphenated word, "a:b" with an unknown field is searched as the phrase "a b".
    assert set(ids(corpus, "bidonville:de")) == {4}


def test_absurd_paging_is_clamped(corpus: SearchIndex) -> None:
    page = corpus.search(SearchRequest(q="portugais", page=-3, per_page=100000))
    assert page.page == 1 and page.per_page == 100
    assert page.error is None
