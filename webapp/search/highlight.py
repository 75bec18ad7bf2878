"""Snippets with the query's words marked, built from a bounded excerpt of the story.

Only the hits of the page being shown are highlighted, and only from the stored excerpt (the
first few thousand characters), so the cost is fixed whatever the story length or the number of
matches. Output is HTML-escaped text with ``<mark>`` elements: it must never pass story text
through unescaped.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape

from webapp.search.analysis import (
    SIMPLE_RAW_TOKEN,
    STEMMED_LANGUAGES,
    raw_token_pattern,
    stem,
    tokens,
)

#: Length of a snippet, in characters of the original text.
SNIPPET_CHARS = 240

#: New words one results page may learn beyond what its snippets need (the rest of each matched
#: excerpt, so that the next page finding that story needs no tokenisation): stemming costs
#: ~25 µs a word, so a cold process warms over its first pages by ~10 ms each at most.
LEARNING_BUDGET = 400


@dataclass(frozen=True)
class MatchRules:
    """What counts as a match in a snippet: exact folded tokens, stems, prefixes."""

    terms: frozenset[str]
    stems: frozenset[tuple[str, str]]
    prefixes: tuple[str, ...]
    # Words repeat (Zipf): each distinct raw word is folded and stemmed once per request.
    # One dict per language, so the snippet loop looks a word up without building a key.
    memo: dict[str, dict[str, bool]] = field(default_factory=dict, compare=False, hash=False)
    # Per language: the terms and ``"\x00" + stem`` of the stems, to meet ``_word_keys``.
    keysets: dict[str, frozenset[str]] = field(default_factory=dict, compare=False, hash=False)
    # New words this request may still learn beyond its own needs (see ``LEARNING_BUDGET``).
    learning_budget: list[int] = field(
        default_factory=lambda: [LEARNING_BUDGET], compare=False, hash=False
    )
    # Per language: (vocabulary state, its generation, known raw words that match).
    known: dict[str, tuple[_VocabularyState, int, list[str]]] = field(
        default_factory=dict, compare=False, hash=False
    )

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

    def keys_for(self, language: str) -> frozenset[str]:
        """Everything a word's keys (:func:`_word_keys`) must meet to match in ``language``."""
        found = self.keysets.get(language)
        if found is None:
            found = self.keysets[language] = self.terms.union(
                "\x00" + s for lang, s in self.stems if lang == language
            )
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


def _word_keys(word: str, language: str) -> frozenset[str]:
    """What a raw word can match in ``language``: its folded tokens, and ``"\x00" + stem`` of
    each (see :meth:`MatchRules.keys_for`)."""
    folded = _folded(word)
    keys = set(folded)
    if language in STEMMED_LANGUAGES:
        keys.update("\x00" + s for t in folded if (s := stem(language, t)))
    return frozenset(keys)


class _VocabularyState:
    """One filling of a vocabulary. Never emptied in place: when full, the vocabulary starts a new
    state, so a reader holding this one still sees ``seen``, ``by_key`` and ``whole_texts``
    agree (a word in ``seen`` is always in ``by_key``; a text in ``whole_texts`` has all its
    words in both)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.by_key: dict[str, set[str]] = {}
        # Hashes of texts every word of which is in ``seen``: in such a text the query's words
        # can only be known words, so finding them takes substring tests, not a tokenisation.
        self.whole_texts: set[int] = set()
        # Moves on after words are added: a page's list of matching words, computed at one
        # generation, is current while that generation still is.
        self.generation = 0

    def matching(self, keys: frozenset[str]) -> set[str]:
        """Every known raw word having one of ``keys``."""
        by_key = self.by_key
        return set().union(*[by_key.get(key, ()) for key in keys])


class _Vocabulary:
    """The raw words met in one language's snippets, for the life of the process, indexed by
    what they match (:func:`_word_keys`): the words of the stories do not change with the query,
    so a page's snippets cost set operations in C instead of a lookup per word. Bounded: past
    :data:`_VOCABULARY_LIMIT` words it starts a new, empty state."""

    def __init__(self) -> None:
        self.state = _VocabularyState()
        self.lock = threading.Lock()  # writers only; readers hold on to one state

    def learn(self, words: set[str], language: str) -> _VocabularyState:
        """Make ``words`` known and return the state that now holds every one of them (the
        current one, or a new one if they do not fit)."""
        with self.lock:
            state = self.state
            new = words - state.seen
            if len(state.seen) + len(new) > _VOCABULARY_LIMIT:
                state = self.state = _VocabularyState()
                new = set(words)
            for word in new:
                for key in _word_keys(word, language):
                    found = state.by_key.get(key)
                    if found is None:
                        found = state.by_key[key] = set()
                    found.add(word)
            state.seen.update(new)  # after ``by_key``: a word seen is a word indexed
            state.generation += 1  # after both: a list computed before is seen to be stale
            return state

    def learn_text(
        self,
        text: str,
        language: str,
        read: _VocabularyState,
        whole: str | None = None,
        max_new: int | None = None,
    ) -> int:
        """Learn every word of ``text`` (simple script) and remember that ``whole`` (``text``
        itself by default, else a text whose other words were learned in ``read``) is known
        whole. With ``max_new``, a text holding more unknown words than that is left alone: a
        cold process would stem thousands of words for a page that does not need them. Returns
        the number of words learned."""
        words = set(SIMPLE_RAW_TOKEN.findall(text))
        new = words - read.seen
        if max_new is not None and len(new) > max_new:
            return 0
        state = self.learn(words, language) if new else read
        if state is read:
            self.mark_whole(text if whole is None else whole, read)
        return len(new)

    def mark_whole(self, text: str, read: _VocabularyState) -> None:
        """Record that every word of ``text`` is in ``read``, if that is still the state."""
        with self.lock:
            if self.state is not read:  # started again meanwhile: ``read`` is being forgotten
                return
            if len(read.whole_texts) >= _WHOLE_TEXTS_LIMIT:
                read.whole_texts = set()
            read.whole_texts.add(hash(text))


_VOCABULARIES: dict[str, _Vocabulary] = {}
_VOCABULARY_LIMIT = 300_000
#: Texts known whole, per language (8 bytes of hash each, set overhead included ~40 MB at most).
_WHOLE_TEXTS_LIMIT = 500_000


def _vocabulary(language: str) -> _Vocabulary:
    vocabulary = _VOCABULARIES.get(language)
    if vocabulary is None:
        vocabulary = _VOCABULARIES.setdefault(language, _Vocabulary())
    return vocabulary


def _new_locks_after_fork() -> None:
    # A fork (RQ's work horses) while another thread held a lock would leave it held for ever.
    for vocabulary in list(_VOCABULARIES.values()):
        vocabulary.lock = threading.Lock()


os.register_at_fork(after_in_child=_new_locks_after_fork)


def matching_words(
    text: str, rules: MatchRules, language: str, pattern: re.Pattern[str] | None = None
) -> list[str]:
    """The distinct raw words of ``text`` that the query matches, sorted.

    One C-level pass finds the words; words never met before are analysed once for the process;
    the matches are then one set intersection with the known words having the query's keys.
    """
    if not text:
        return []
    distinct = set((pattern or raw_token_pattern(text)).findall(text))
    if rules.prefixes:  # rare (``word*``): the general rule, memoised per request
        matches_raw = rules.matches_raw
        return sorted(word for word in distinct if matches_raw(word, language))
    vocabulary = _vocabulary(language)
    state = vocabulary.state
    if not distinct <= state.seen:
        state = vocabulary.learn(distinct, language)
    return sorted(distinct & state.matching(rules.keys_for(language)))


def learn_words(text: str, language: str) -> None:
    """Analyse the words of ``text`` now (folding, stemming), as a process warms up: stemming is
    the slow part of a cold process's first snippets, and frequent words recur in every story."""
    if not text or raw_token_pattern(text) is not SIMPLE_RAW_TOKEN:
        return
    vocabulary = _vocabulary(language)
    vocabulary.learn_text(text, language, vocabulary.state)


def text_tokens(text: str) -> set[str]:
    """The folded tokens of every raw word of ``text``: what analysing its words stems (the
    words whose stems a warm-up may keep for the next process)."""
    if not text:
        return set()
    words = set(raw_token_pattern(text).findall(text))
    return {token for word in words for token in _folded(word)}


def _known_matches(rules: MatchRules, language: str, state: _VocabularyState) -> list[str]:
    """Every known raw word the query matches in ``language`` that the simple pattern reads as
    one word (a word learned from a transcript in another script may hold a combining mark,
    which splits it in simple text), sorted longest first (so that a search for any of them in
    a text finds the longest at a place), kept for the request while no word is learned."""
    cached = rules.known.get(language)
    if cached is not None and cached[0] is state and cached[1] == state.generation:
        return cached[2]
    generation = state.generation  # read first: words learned meanwhile make it stale
    words = sorted(
        filter(SIMPLE_RAW_TOKEN.fullmatch, state.matching(rules.keys_for(language))),
        key=lambda w: (-len(w), w),
    )
    rules.known[language] = (state, generation, words)
    return words


def mentions(text: str, rules: MatchRules, language: str) -> bool:
    """Whether ``text`` holds a word the query matches (a transcript line, an index point)."""
    return bool(matching_words(text, rules, language))


#: Characters of text examined at a time while looking for the first match: most stories
#: that match a common word show it early, and nothing after the first cluster is needed.
_CHUNK_CHARS = 600


def _cut(text: str, at: int) -> int:
    """The first space at or after ``at`` (or the end): no word crosses it."""
    if at >= len(text):
        return len(text)
    space = text.find(" ", at)
    return len(text) if space < 0 else space


def _finder(words: list[str]) -> re.Pattern[str]:
    """The matched words as whole tokens: ``[^\\W_]+`` runs, so a word is bounded by anything
    that is not such a character, exactly where the tokeniser cuts."""
    return re.compile(r"(?<![^\W_])(?:" + "|".join(map(re.escape, words)) + r")(?![^\W_])")


def _spans(text: str, rules: MatchRules, language: str, size: int) -> list[tuple[int, int]]:
    """Where the query's words are in ``text``, up to the end of the first cluster of matches
    (two snippet lengths after the first match).

    The text is read a chunk at a time until a chunk holds a match; then only up to the end of
    that cluster. Each chunk is tokenised in one C call and only its distinct words looked up.
    """
    vocabulary = _vocabulary(language)
    state = vocabulary.state
    # Only texts of the simple pattern are ever marked whole, so the mark answers that too.
    if not rules.prefixes and hash(text) in state.whole_texts:
        return _spans_in_known_text(text, rules, language, size, state)
    if raw_token_pattern(text) is not SIMPLE_RAW_TOKEN:
        return _spans_by_word(text, rules, language, size)
    length = len(text)
    pos = 0
    while pos < length:
        cut = _cut(text, pos + _CHUNK_CHARS)
        words = matching_words(text[pos:cut], rules, language, SIMPLE_RAW_TOKEN)
        if words:
            first = _finder(words).search(text, pos, cut)
            assert first is not None
            stop = first.start() + 2 * size
            # A match starting at ``stop`` at the latest belongs to the cluster.
            end = _cut(text, stop + 1)
            if end > cut:
                more = matching_words(text[cut:end], rules, language, SIMPLE_RAW_TOKEN)
                words = sorted(set(words).union(more))
            spans: list[tuple[int, int]] = []
            for m in _finder(words).finditer(text, first.start(), end):
                if m.start() > stop:
                    break
                spans.append(m.span())
            if not rules.prefixes:
                # Learn the rest too (once per text and process): the next query finding this
                # story takes the known-text path, whatever its words.
                rules.learning_budget[0] -= vocabulary.learn_text(
                    text[max(cut, end) :], language, state, text, rules.learning_budget[0]
                )
            return spans
        pos = cut
    if not rules.prefixes:  # every word of the text was tokenised and learned on the way
        vocabulary.mark_whole(text, state)
    return []


def _spans_in_known_text(
    text: str, rules: MatchRules, language: str, size: int, state: _VocabularyState
) -> list[tuple[int, int]]:
    """:func:`_spans` for a text whose every word is known: its matching words can only be among
    the known words the query matches, so substring tests (C) rule them in or out, and a text
    without any (a story found by its title or a later paragraph) costs no tokenisation."""
    present = [w for w in _known_matches(rules, language, state) if w in text]
    if not present:
        return []
    finder = _finder(present)
    first = finder.search(text)
    if first is None:
        return []
    stop = first.start() + 2 * size
    spans: list[tuple[int, int]] = []
    for m in finder.finditer(text, first.start()):
        if m.start() > stop:
            break
        spans.append(m.span())
    return spans


def _spans_by_word(text: str, rules: MatchRules, language: str, size: int) -> list[tuple[int, int]]:
    """:func:`_spans` for text in other scripts: every token tested in turn."""
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
    return spans


def snippet(text: str, rules: MatchRules, language: str, size: int = SNIPPET_CHARS) -> str:
    """The window of ``text`` with the most matches, escaped, matches in ``<mark>``."""
    if not text:
        return ""
    spans = _spans(text, rules, language, size)
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
