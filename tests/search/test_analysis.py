"""Folding, elisions and scripts: what people type meets what stories say."""

from __future__ import annotations

import pytest

from webapp.search.analysis import fold, primary_language, tokens


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("École", ["ecole"]),
        ("ÉCOLE", ["ecole"]),
        ("L’usine", ["usine"]),
        ("l'usine", ["usine"]),
        ("d‘Alger", ["alger"]),
        ("qu’il", ["il"]),
        ("jusqu'à", ["a"]),
        ("Vitry-sur-Seine", ["vitry", "sur", "seine"]),
        ("Straße", ["strasse"]),
        ("œuvre", ["oeuvre"]),
        ("ﬁn", ["fin"]),  # ligature, NFKC
        ("１９６２", ["1962"]),  # full-width digits
        ("Việt Nam", ["viet", "nam"]),
        ("e\u0301cole", ["ecole"]),  # decomposed accent (NFD input)
    ],
)
def test_latin_text_is_folded_and_elisions_dropped(typed: str, expected: list[str]) -> None:
    assert tokens(typed) == expected


def test_arabic_spelling_variants_and_harakat_fold_together() -> None:
    assert tokens("أحمد") == tokens("احمد")
    assert tokens("مَدْرَسَة") == tokens("مدرسة")
    assert tokens("٢٠٠٠") == ["2000"]


def test_persian_yeh_and_keheh_match_arabic_letters() -> None:
    assert tokens("کتاب فارسی") == tokens("كتاب فارسي")


def test_hebrew_points_are_ignored() -> None:
    assert tokens("שָׁלוֹם") == tokens("שלום")


def test_tamil_words_stay_whole_with_their_vowel_signs() -> None:
    assert tokens("தமிழ் மொழி") == ["தமிழ்", "மொழி"]


def test_chinese_is_split_into_characters() -> None:
    assert tokens("我来自北京") == ["我", "来", "自", "北", "京"]


def test_fold_is_idempotent() -> None:
    text = "L’École d’Ivry — Straße, مَدْرَسَة"
    assert fold(fold(text)) == fold(text)


@pytest.mark.parametrize(
    ("tag", "primary"), [("fr-FR", "fr"), ("zh_Hant", "zh"), ("AR", "ar"), ("", "")]
)
def test_primary_language_of_bcp47_tags(tag: str, primary: str) -> None:
    assert primary_language(tag) == primary
