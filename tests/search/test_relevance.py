"""A multilingual relevance set: each query with the stories it must and must not find."""

from __future__ import annotations

import pytest

from tests.search.conftest import ids, story
from webapp.search import SearchIndex, SearchRequest

STORIES = [
    story(
        1,
        "L’usine de Vitry-sur-Seine",
        "Mon père travaillait à l'usine Rhône-Poulenc. Les ouvriers portugais arrivaient "
        "chaque lundi. Il chantait des fados le soir dans le bidonville.",
        places=["Vitry-sur-Seine"],
        period_start=1962,
        period_end=1975,
    ),
    story(
        2,
        "Arriving in Ivry",
        "My mother worked in factories near the river. The immigrants came from Algeria "
        "and Portugal; she was working nights.",
        language="en",
        places=["Ivry-sur-Seine"],
        period_start=1958,
        period_end=1964,
    ),
    story(
        3,
        "مدرسة الحي",
        "ذهبت إلى المدرسة في باريس مع أخي أحمد. كانت المعلمة لطيفة.",
        language="ar",
        places=["Paris"],
        period_start=1985,
    ),
    story(
        4,
        "我的故事",
        "我来自中国浙江温州，后来住在巴黎。我在餐馆工作了十年。",
        language="zh-Hans",
        places=["Paris"],
        period_start=1992,
    ),
    story(
        5,
        "Les écoles du quartier",
        "À l’école Jean Jaurès, les enfants parlaient arabe, portugais et tamoul.",
        places=["Créteil"],
        period_start=1978,
    ),
    story(
        6,
        "யாழ்ப்பாணத்திலிருந்து",
        "என் அம்மா யாழ்ப்பாணம் நகரில் பிறந்தார். நாங்கள் பாரிஸ் வந்தோம்.",
        language="ta",
        places=["La Courneuve"],
        period_start=1990,
    ),
    story(
        7,
        "Une chanson",
        "Ma grand-mère chantait en kabyle. Elle a quitté Tizi Ouzou en 1956.",
        places=["Tizi Ouzou", "Ivry-sur-Seine"],
        period_start=1956,
    ),
    story(
        8,
        "Persian letters",
        "نامه‌های مادربزرگ از تهران رسید. کتاب شعر فارسی را با خود آورد.",
        language="fa",
        places=["Téhéran"],
        period_start=1979,
    ),
    story(
        9,
        "ברכה",
        "סבתא שלי הגיעה מתוניס ושרה שירים בעברית.",
        language="he",
        places=["Sarcelles"],
        period_start=1961,
    ),
]


@pytest.fixture
def corpus(index: SearchIndex) -> SearchIndex:
    index.upsert_many(STORIES)
    return index


@pytest.mark.parametrize(
    ("query", "must", "must_not"),
    [
        # French: accents, case, elisions, stemming with the plain form also matched
        ("usine", {1}, {2, 5}),
        ("usines", {1}, {2}),
        ("l'usine", {1}, set()),
        ("l’usine", {1}, set()),
        ("ecole", {5}, {1}),
        ("ÉCOLES", {5}, set()),
        ("travailler", {1}, {5}),
        ("chanter", {1, 7}, {2}),
        ("portugais", {1, 5}, {3}),
        # English: stemming
        ("factory", {2}, {1}),
        ("work", {2}, {1, 5}),
        ("immigrant", {2}, set()),
        # Places with and without accents and hyphens
        ("Vitry sur Seine", {1}, {2}),
        ("vitry-sur-seine", {1}, {2}),
        ("teheran", {8}, set()),
        ("Ivry", {2, 7}, {1}),
        # Arabic, Persian, Hebrew, Tamil by word; Chinese by characters
        ("مدرسة", {3}, {1}),
        ("المدرسة", {3}, set()),
        ("احمد", {3}, set()),
        ("فارسي", {8}, set()),
        ("تهران", {8}, set()),
        ("סבתא", {9}, set()),
        ("שירים", {9}, {8}),
        ("யாழ்ப்பாணம்", {6}, set()),
        ("温州", {4}, {3}),
        ("巴黎", {4}, set()),
        ("餐馆工作", {4}, set()),
        ("温巴", set(), {4}),  # not adjacent in the text
    ],
)
def test_query_finds_what_it_must_and_nothing_it_must_not(
    corpus: SearchIndex, query: str, must: set[int], must_not: set[int]
) -> None:
    found = set(ids(corpus, query))
    assert must <= found, f"{query!r} missed {must - found}"
    assert not (must_not & found), f"{query!r} wrongly found {must_not & found}"


def test_title_and_place_matches_rank_above_body_matches(index: SearchIndex) -> None:
    index.upsert_many(
        [
            story(1, "Souvenirs", "Nous allions parfois à Montreuil voir des cousins."),
            story(2, "Montreuil", "Mon enfance, racontée par ma sœur."),
            story(3, "Enfance", "Rien sur la ville.", places=["Montreuil"]),
        ]
    )
    ranked = ids(index, "montreuil")
    assert set(ranked) == {1, 2, 3}
    assert ranked[-1] == 1


def test_snippet_marks_the_matching_words_and_escapes_html(index: SearchIndex) -> None:
    index.upsert(story(1, "Titre", "Il a écrit <script>alert(1)</script> près de l’usine."))
    page = index.search(SearchRequest(q="usine script"))
    snippet = page.hits[0].snippet_html
    assert "<mark>usine</mark>" in snippet
    assert "<script>" not in snippet
    assert "&lt;<mark>script</mark>&gt;" in snippet


def test_snippet_of_a_long_story_shows_the_match_not_the_beginning(index: SearchIndex) -> None:
    body = "Début banal. " + "mot " * 150 + "Puis le bidonville de Nanterre. " + "fin " * 100
    index.upsert(story(1, "Long", body))
    snippet = index.search(SearchRequest(q="bidonville")).hits[0].snippet_html
    assert "<mark>bidonville</mark>" in snippet
    assert not snippet.startswith("Début")


@pytest.mark.parametrize("tag", ["fr", "fr-FR", "FR", "fr_CA"])
def test_a_language_stems_reach_stories_by_their_language_whatever_the_tag_spelling(
    index: SearchIndex, tag: str
) -> None:
    """French stems reach a story tagged French however the tag is written, and a French
    transcript of a story in another language; never a story in another language that merely
    holds the word's neighbours."""
    index.upsert_many(
        [
            story(1, "Souvenir", "Il lisait le journal du matin.", language=tag),
            story(2, "Memory", "He wrote in his journal every day.", language="en-GB"),
            story(
                3,
                "ذكريات",
                "ذهبنا إلى السوق",
                language="ar",
                moments=((7, 12.0, "Elle lisait le journal de Vitry.", "fr-FR"),),
            ),
            story(4, "Market days", "The markets of Ivry were busy.", language="en"),
        ]
    )
    assert set(ids(index, "journaux")) == {1, 3}  # French stem journal; English keeps journaux
    assert set(ids(index, "market")) == {4}  # English stem: markets
