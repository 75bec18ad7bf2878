"""Text folding: the one rule that makes spelling variants meet, for search, slugs and places.

``fold`` normalises (NFKC), case-folds, maps the few letters Unicode does not decompose (œ, ø,
Arabic and Persian variants, Arabic-Indic digits, apostrophes) and strips accents and vowel marks
while keeping the marks that are letters in Indic scripts. The search index
(``webapp.search.analysis``), readable URLs (``webapp.slugs``) and place keys (``webapp.places``)
all use it, so it lives here rather than in the search engine: changing the engine can never
silently change a URL or a place key. Changing *this* function changes all three — reindex, and
check that slugs and place keys stay stable. It must never depend on Whoosh, Flask or the
database.
"""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = "\u2019\u2018\u02bc\u02bb\u0060\u00b4\u2032\uff07\u201b"

_FOLD_MAP: dict[str, str] = {
    **{ch: "'" for ch in _APOSTROPHES},
    # Letters that folding must map although Unicode does not decompose them.
    "œ": "oe",
    "æ": "ae",
    "ø": "o",
    "ł": "l",
    "đ": "d",
    "ð": "d",
    "þ": "th",
    "ı": "i",
    # Arabic and Persian spelling variants people type interchangeably.
    "أ": "ا",
    "إ": "ا",
    "آ": "ا",
    "ٱ": "ا",
    "ى": "ي",
    "ی": "ي",
    "ک": "ك",
    "ة": "ه",
    "ـ": "",  # tatweel, a purely typographic stretch
    # Arabic-Indic and Persian digits, so years match whatever digits were typed.
    **{chr(0x0660 + i): str(i) for i in range(10)},
    **{chr(0x06F0 + i): str(i) for i in range(10)},
}
# A regex finding the few characters to map is much faster than str.translate over every
# character of a long body.
_FOLD_CHARS = re.compile("[" + "".join(re.escape(ch) for ch in _FOLD_MAP) + "]")


def _fold_char(match: re.Match[str]) -> str:
    return _FOLD_MAP[match.group()]


# Combining marks removed after NFD: Latin/Greek/Cyrillic accents, Arabic harakat, Hebrew points.
# Marks of Indic scripts (Tamil vowel signs, viramas) are *letters* of the word and stay.
_STRIP_MARKS = re.compile(
    "[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
    "\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7"
    "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]+"
)


def fold(text: str) -> str:
    """Normalise, case-fold and strip accents so that every spelling variant meets the same form.

    NFKC first (ligatures, full-width forms, compatibility characters), then ``casefold`` (ß → ss),
    then accents removed on a decomposed form and the result recomposed (NFC) so that Hangul and
    Indic syllables come back whole.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    if text.isascii():
        return text
    text = _FOLD_CHARS.sub(_fold_char, text)
    text = _STRIP_MARKS.sub("", unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFC", text)
