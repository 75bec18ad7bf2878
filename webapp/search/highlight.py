"""Snippets with the query's words marked, built from a bounded excerpt of the story.

Only the hits of the page being shown are highlighted, and only from the stored excerpt (the
first few thousand characters), so the cost is fixed whatever the story length or the number of
matches. Output is HTML-escaped text with ``<mark>`` elements: it must never pass story text
through unescaped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape

from webapp.search.analysis import STEMMED_LANGUAGES, raw_token_pattern, stem, tokens

#: Length of a snippet, in characters of the original text.
SNIPPET_CHARS = 240


@dataclass(frozen=True)
class MatchRules:
    """What counts as a match in a snippet: exact folded tokens, stems, prefixes."""

    terms: frozenset[str]
    stems: frozenset[tuple[str, str]]
    prefixes: tuple[str, ...]
    # Words repeat (Zipf): each distinct raw word is folded and stemmed once per request.
    # One dict per language, so the snippet loop looks a word up without building a key.
    memo: dict[str, dict[str, bool]] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def build(cls, tokens: Iterable[str], prefixes: Iterable[str] = ()) -> MatchRules:
        terms = frozenset(tokens)
        stems = frozenset(
            (language, s)
            for token in terms
            for language in STEMMED_LANGUAGES
            if (s := stem(language, token))
        )
        return cls(terms, stems, tuple(prefixes))

    def matches_raw(self, word: str, language: str) -> bool:
        """Whether a word as written in the text matches (memoised)."""
        memo = self.memo_for(language)
        found = memo.get(word)
        if found is None:
            found = memo[word] = any(self.matches(t, language) for t in _folded(word))
        return found

    def memo_for(self, language: str) -> dict[str, bool]:
        """The memo of one language: raw word → whether it matches."""
        memo = self.memo.get(language)
        if memo is None:
            memo = self.memo[language] = {}
        return memo

    def matches(self, token: str, language: str) -> bool:
        if token in self.terms:
            return True
        if self.prefixes and token.startswith(self.prefixes):
            return True
        if language in STEMMED_LANGUAGES and self.stems:
            stemmed = stem(language, token)
            return stemmed is not None and (language, stemmed) in self.stems
        return False


_FOLDED: dict[str, tuple[str, ...]] = {}
_FOLDED_LIMIT = 200_000


def _folded(word: str) -> tuple[str, ...]:
    """The folded tokens of one raw word, cached for the process (words follow Zipf's law)."""
    found = _FOLDED.get(word)
    if found is None:
        if len(_FOLDED) >= _FOLDED_LIMIT:
            _FOLDED.clear()
        found = _FOLDED[word] = tuple(tokens(word))
    return found


def mentions(text: str, rules: MatchRules, language: str) -> bool:
    """Whether ``text`` holds a word the query matches (a transcript line, an index point)."""
    matches_raw = rules.matches_raw
    return any(matches_raw(m.group(), language) for m in raw_token_pattern(text).finditer(text))


def snippet(text: str, rules: MatchRules, language: str, size: int = SNIPPET_CHARS) -> str:
    """The window of ``text`` with the most matches, escaped, matches in ``<mark>``."""
    if not text:
        return ""
    matches_raw = rules.matches_raw
    known = rules.memo_for(language).get
    spans: list[tuple[int, int]] = []
    stop = len(text)
    for m in raw_token_pattern(text).finditer(text):
        if m.start() > stop:
            break  # the first cluster of matches is enough for a snippet
        word = m.group()
        found = known(word)
        if found is None:
            found = matches_raw(word, language)
        if found:
            spans.append(m.span())
            if len(spans) == 1:
                stop = m.start() + 2 * size
    start = 0
    if spans:
        best_count = -1
        j = 0
        for i, (s, _) in enumerate(spans):
            while j < len(spans) and spans[j][1] <= s + size:
                j += 1
            if j - i > best_count:
                best_count, start = j - i, s
        # Start a little before the first match, at a word boundary, for context.
        start = max(0, start - size // 4)
        if start:
            space = text.rfind(" ", 0, start)
            start = space + 1 if space >= 0 and start - space < 30 else start
    end = min(len(text), start + size)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start + size // 2 else end
    out: list[str] = ["…" if start else ""]
    cursor = start
    for s, e in spans:
        if s < start or e > end or s < cursor:
            continue
        out.append(escape(text[cursor:s]))
        out.append(f"<mark>{escape(text[s:e])}</mark>")
        cursor = e
    out.append(escape(text[cursor:end]))
    if end < len(text):
        out.append("…")
    return "".join(out)
