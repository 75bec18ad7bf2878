"""Text analysis shared by indexing, querying and highlighting.

One function turns text into the folded tokens that are indexed and searched, so that what a
person types ("ecole", "l’usine", "Vitry sur Seine", a village name in Arabic script) meets what a
story says. It works on whole strings with C-level primitives (normalisation, ``casefold``,
``translate``, one compiled regular expression) because it runs over every word of 100,000
stories at reindex time. It must never depend on Whoosh, so that the highlighter and the query
parser share exactly the same rules as the index. Folding itself (``fold``) lives in the neutral
``webapp.textfold``, shared with slugs and place keys.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import cache

from whoosh.lang import stemmer_for_language

from webapp.textfold import fold as fold  # re-exported: search code imports it from here

#: Languages whose stories also get stemmed terms (with the unstemmed form always indexed too).
STEMMED_LANGUAGES: tuple[str, ...] = ("fr", "en", "es", "pt")

#: French elided articles and pronouns: "l'usine" is indexed and searched as "usine".
ELISIONS: tuple[str, ...] = (
    "jusqu",
    "lorsqu",
    "puisqu",
    "quoiqu",
    "qu",
    "l",
    "d",
    "j",
    "m",
    "n",
    "s",
    "t",
    "c",
)


# Characters that people type for an apostrophe; all become "'" before tokenising.
def _char_class_ranges(predicate: Callable[[str], bool], limit: int) -> str:
    """Compress the code points below ``limit`` that satisfy ``predicate`` into regex ranges."""
    parts: list[str] = []
    start = None
    for cp in range(limit + 1):
        inside = cp < limit and predicate(chr(cp))
        if inside and start is None:
            start = cp
        elif not inside and start is not None:
            end = cp - 1
            parts.append(
                re.escape(chr(start))
                if start == end
                else f"{re.escape(chr(start))}-{re.escape(chr(end))}"
            )
            start = None
    return "".join(parts)


# Scripts written without spaces between words: each character becomes a token and a run of
# them is searched as a phrase (character n-grams of any length, exactly).
_UNSPACED = (
    "\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3038-\u303c\u3040-\u30ff\u3100-\u312f"
    "\u31a0-\u31bf\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\U00020000-\U0002fa1f"
    "\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff"  # Thai, Lao, Myanmar, Khmer
)
_MARKS = _char_class_ranges(lambda ch: unicodedata.category(ch) in ("Mn", "Mc", "Me"), 0x20000)
_WORD = f"(?:[^\\W_{_UNSPACED}]|[{_MARKS}])"
_ELISION = "|".join(ELISIONS)

#: A token: an optional French elision (dropped), then a word, or one unspaced-script character.
_TOKEN = re.compile(f"(?:(?<!\\w)(?:{_ELISION})'(?={_WORD}))?({_WORD}+|[{_UNSPACED}])")

#: The same for text in Latin, Greek, Cyrillic or Armenian script only (no marks left after
#: folding, no unspaced script): a small character class, several times faster.
_SIMPLE_TOKEN = re.compile(f"(?:(?<!\\w)(?:{_ELISION})'(?=[^\\W_]))?([^\\W_]+)")
_BEYOND_SIMPLE = re.compile("[^\u0000-\u058f]")

#: Same tokens, but keeping character offsets in the *original* text (for highlighting).
_RAW_TOKEN = re.compile(f"{_WORD}+|[{_UNSPACED}]")

SIMPLE_RAW_TOKEN = re.compile(r"[^\W_]+")


#: What makes the simple raw pattern inexact: a combining mark (not a word character, yet part
#: of a word) or a character of an unspaced script (a token on its own). Typographic
#: apostrophes, dashes and quotes, common in French text, do not.
_NEEDS_FULL_RAW = re.compile(f"[{_MARKS}{_UNSPACED}]")


def raw_token_pattern(text: str) -> re.Pattern[str]:
    """The fastest raw-token pattern that is exact for ``text``'s scripts. A combining mark
    anywhere (a Latin accent written decomposed, "e" + U+0301, as some keyboards and speech-to-
    text tools do) needs the full pattern, or "école" would be read as "e" and "cole"."""
    if text.isascii() or not _NEEDS_FULL_RAW.search(text):
        return SIMPLE_RAW_TOKEN
    return _RAW_TOKEN


_UNSPACED_CHAR = re.compile(f"[{_UNSPACED}]")


def tokens(text: str) -> list[str]:
    """The folded tokens of ``text`` in order; their list index is their position."""
    folded = fold(text)
    if folded.isascii() or not _BEYOND_SIMPLE.search(folded):
        return _SIMPLE_TOKEN.findall(folded)
    return _TOKEN.findall(folded)


def is_unspaced(token: str) -> bool:
    """True for a single character of a script written without spaces (Chinese, Thai…)."""
    return bool(_UNSPACED_CHAR.fullmatch(token))


def primary_language(tag: str | None) -> str:
    """The primary subtag of a BCP 47 tag, lower case: "fr-FR" → "fr", "zh-Hant" → "zh"."""
    if not tag:
        return ""
    return tag.strip().replace("_", "-").split("-", 1)[0].lower()


_STEMMERS: dict[str, Callable[[str], str]] = {
    lang: stemmer_for_language(lang) for lang in STEMMED_LANGUAGES
}
#: Per language, token → stem, for the life of the process.
_STEMS: dict[str, dict[str, str]] = {lang: {} for lang in STEMMED_LANGUAGES}
_STEM_CACHE_LIMIT = 500_000
#: Stems this process computed itself (what is worth keeping for the next one).
_COMPUTED = [0]


def stem(language: str, token: str) -> str | None:
    """The stem of ``token`` in ``language``, or None when the language has no stemmer.

    Cached: word frequencies follow Zipf's law, so a small cache answers almost every call and
    keeps the pure-Python Snowball stemmers off the reindex critical path.
    """
    cache = _STEMS.get(language)
    if cache is None:
        return None
    cached = cache.get(token)
    if cached is not None:
        return cached
    if is_unspaced(token) or token.isdigit():
        return None
    if len(cache) >= _STEM_CACHE_LIMIT:
        cache.clear()
    _COMPUTED[0] += 1
    result = cache[token] = _STEMMERS[language](token)
    return result


def stems_computed() -> int:
    """How many stems this process computed itself, in every language."""
    return _COMPUTED[0]


def stems_known(language: str, tokens: set[str]) -> tuple[list[str], list[str]]:
    """The stems known in ``language`` of those of ``tokens`` that have one, as sorted tokens
    and their stems, to keep them for the next process."""
    cache = _STEMS.get(language, {})
    found = sorted(tokens.intersection(cache))
    return found, [cache[t] for t in found]


def remember_stems(language: str, tokens: list[str], stems: list[str]) -> None:
    """Take stems computed by the same stemmer in an earlier process (``known_stems``),
    ``stems`` in the order of ``tokens``."""
    cache = _STEMS.get(language)
    if cache is not None and len(tokens) == len(stems):
        if len(cache) + len(tokens) >= _STEM_CACHE_LIMIT:
            cache.clear()
        cache.update(zip(tokens, stems, strict=True))


@cache
def stemmer_fingerprint() -> str:
    """What the stems depend on: the stemmers' answers for a fixed set of words, so that stems
    kept by another version of a stemmer are never believed."""
    probe = ("nationalisation", "travaillaient", "journaux", "running", "ponies", "generously")
    return "|".join(
        f"{lang}:" + ",".join(_STEMMERS[lang](word) for word in probe) for lang in STEMMED_LANGUAGES
    )
