"""Nothing public is computed from a story that is not published (issue 10.1).

Did-you-mean suggestions, prefix and stem expansion and the scoring statistics may only draw on
published stories; an erased story leaves no word in any index file. Every probe has a positive
control beside it: the same probe on a published story finds what it should.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.search.conftest import ids, story
from webapp.search import SearchIndex, SearchRequest

HIDDEN = ["draft", "submitted", "in_review", "approved", "rejected", "withdrawn", "returned"]


def suggestion(index: SearchIndex, q: str) -> str | None:
    return index.search(SearchRequest(q=q)).suggestion


@pytest.mark.parametrize("status", HIDDEN)
def test_suggestions_never_offer_a_word_of_an_unpublished_story(
    index: SearchIndex, status: str
) -> None:
    index.upsert(story(1, "Le marché", "Des épices au marché de Vitry."))
    index.upsert(story(2, "Secret", "Le quartier Zanzibarrel était caché.", status=status))
    # The hidden word is one edit away from the probe, and the only candidate.
    assert suggestion(index, "zanzibarrol") is None
    assert ids(index, "zanzibarrel") == []
    # Staff searches do see it (the word is in the index) …
    staff = index.search(SearchRequest(q="zanzibarrel", public=False))
    assert [h.id for h in staff.hits] == [2]
    # … and once published, the same probe is corrected (positive control).
    index.upsert(story(2, "Secret", "Le quartier Zanzibarrel était caché."))
    assert suggestion(index, "zanzibarrol") == "zanzibarrel"


def test_a_word_known_only_from_a_hidden_story_does_not_silence_the_suggestion(
    index: SearchIndex,
) -> None:
    # "marchee" exists only in a draft: for the public it is unknown, so it is corrected.
    index.upsert(story(1, "Le marché", "Au marché le samedi."))
    index.upsert(story(2, "Brouillon", "marchee", status="draft"))
    assert suggestion(index, "marchee") == "marche"
    assert ids(index, "marchee") == []


@pytest.mark.parametrize("status", HIDDEN)
def test_prefix_expansion_only_reaches_words_of_published_stories(
    index: SearchIndex, status: str
) -> None:
    # 450 hidden words sort before the published one: they must not fill the expansion bound.
    # Both in one segment, where the bound applies.
    crowd = " ".join(f"paraa{n:04d}" for n in range(450))
    index.upsert_many(
        [story(1, "Caché", crowd, status=status), story(2, "Rouge", "Un parapluie rouge.")]
    )
    assert ids(index, "para*") == [2]
    assert ids(index, "paraa*") == []
    staff = index.search(SearchRequest(q="paraa0001*", public=False))
    assert [h.id for h in staff.hits] == [1]  # positive control: the hidden words are there


def test_scores_do_not_depend_on_unpublished_stories(index_path: Path) -> None:
    published = [
        story(1, "Usine", "usine usine gare"),
        story(2, "Gare", "gare usine"),
        story(3, "Marché", "marché gare"),
    ]
    clean = SearchIndex(index_path / "clean")
    clean.upsert_many(published)
    noisy = SearchIndex(index_path / "noisy")
    noisy.upsert_many(published)
    # Many hidden stories about "usine" would make the word common, hence worth less.
    noisy.upsert_many(story(100 + n, "Brouillon", "usine " * 30, status="draft") for n in range(40))
    for q in ["usine", "gare", "usine gare", "usine OR marché", "usi*", '"gare usine"']:
        expected = clean.search(SearchRequest(q=q)).hits
        got = noisy.search(SearchRequest(q=q)).hits
        assert [(h.id, round(h.score, 9)) for h in got] == [
            (h.id, round(h.score, 9)) for h in expected
        ], q
        assert expected or q == '"gare usine"'


def _index_bytes(path: Path) -> bytes:
    return b"".join(f.read_bytes() for f in sorted(path.rglob("*")) if f.is_file())


def test_an_erased_story_leaves_no_word_in_any_index_file(index: SearchIndex) -> None:
    index.upsert(story(1, "Le marché", "Des épices au marché."))
    index.upsert(story(2, "Secret", "Le quartier Xylophagorre.", status="submitted"))
    index.upsert(story(2, "Secret", "Le quartier Xylophagorre, version deux.", status="published"))
    index.upsert(story(3, "Autre", "Une histoire sans rapport."))
    assert b"xylophagorre" in _index_bytes(index.path)  # positive control: the probe works
    assert ids(index, "xylophagorre") == [2]

    index.purge(2)

    assert b"xylophagorre" not in _index_bytes(index.path)
    assert b"Xylophagorre" not in _index_bytes(index.path)
    assert ids(index, "xylophagorre") == []
    assert ids(index, "xylo*") == []
    assert suggestion(index, "xylophagore") is None
    assert index.search(SearchRequest(q="xylophagorre", public=False)).total == 0
    # The others are untouched.
    assert ids(index, "épices") == [1] and ids(index, "rapport") == [3]


def test_purge_reaches_a_rebuilt_segment_and_the_previous_generation(index: SearchIndex) -> None:
    docs = [story(i, f"Histoire {i}", f"mot{i} commun") for i in range(1, 30)]
    docs.append(story(40, "Secret", "Quenouillarde cachée."))
    index.rebuild(docs)
    index.rebuild(docs)  # the previous generation (kept for readers) holds the story too
    assert b"quenouillarde" in _index_bytes(index.path)
    index.purge(40)
    assert b"quenouillarde" not in _index_bytes(index.path)
    assert sorted(ids(index, "commun", per_page=100)) == list(range(1, 30))
