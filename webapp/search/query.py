"""The query language people type, parsed into a small tree of clauses.

Syntax: words (all must match), ``"quoted phrases"``, ``OR`` between two terms, ``-word`` to
exclude, ``prefix*``, and ``field:value`` for power users (``place:Ivry``, ``theme:travail``,
``lang:ar``, ``decade:1960``, ``title:…``). Every input parses: unknown syntax degrades to words
and junk degrades to "no usable term", which the engine turns into a friendly message. This module
must never raise on user input and never decide visibility (the engine adds that filter); it
knows nothing of the index (``matching`` evaluates the tree).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from webapp.search.analysis import is_unspaced
from webapp.search.analysis import tokens as analyse

#: Shortest prefix accepted before ``*``: "a*" would expand to half the vocabulary.
MIN_PREFIX = 2

#: Longest query we read; the rest is ignored rather than slowing everyone down.
MAX_QUERY_CHARS = 500
MAX_CLAUSES = 24

FIELD_ALIASES: dict[str, str] = {
    "place": "place",
    "places": "place",
    "lieu": "place",
    "title": "title",
    "titre": "title",
    "theme": "theme",
    "themes": "theme",
    "org": "organisation",
    "organisation": "organisation",
    "organization": "organisation",
    "collection": "collection",
    "collections": "collection",
    "lang": "language",
    "language": "language",
    "langue": "language",
    "decade": "decade",
    "decennie": "decade",
    "décennie": "decade",
    "status": "status",
}

_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "＂": '"'})
_MINUS = str.maketrans({"−": "-", "–": "-", "—": "-"})
_SYNTAX = re.compile(
    r"""
    (?P<or>(?<!\S)(?:OR|\|\|?|OU)(?!\S))
    | (?P<neg>-(?=\S))?
      (?:(?P<field>[^\W\d_][\w]*):(?=\S))?
      (?:"(?P<phrase>[^"]*)"?|(?P<word>[^\s"()]+))
    """,
    re.VERBOSE,
)


@dataclass
class Clause:
    """One term of the user's query: a word, a phrase or a prefix, maybe in a field."""

    kind: str  # "word" | "phrase" | "prefix"
    text: str
    tokens: list[str]
    field: str | None = None
    negated: bool = False


@dataclass
class ParsedQuery:
    """Groups are ANDed; the clauses inside a group are ORed. Excluded clauses are separate."""

    groups: list[list[Clause]] = field(default_factory=list)
    excluded: list[Clause] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.groups and not self.excluded

    def words(self) -> list[Clause]:
        """Positive word clauses, for spelling suggestions and highlighting."""
        return [c for group in self.groups for c in group]


def parse(text: str) -> ParsedQuery:
    """Parse what a person typed; never raises."""
    text = (text or "")[:MAX_QUERY_CHARS].translate(_QUOTES).translate(_MINUS)
    parsed = ParsedQuery()
    pending_or = False
    count = 0
    for match in _SYNTAX.finditer(text):
        if match.group("or"):
            pending_or = bool(parsed.groups)
            continue
        if count >= MAX_CLAUSES:
            parsed.ignored.append(match.group())
            continue
        clause = _clause(match)
        if clause is None:
            parsed.ignored.append(match.group())
            continue
        count += 1
        if clause.negated:
            parsed.excluded.append(clause)
        elif pending_or:
            parsed.groups[-1].append(clause)
        else:
            parsed.groups.append([clause])
        pending_or = False
    return parsed


def _clause(match: re.Match[str]) -> Clause | None:
    negated = bool(match.group("neg"))
    raw_field = match.group("field")
    field_name = FIELD_ALIASES.get(raw_field.casefold()) if raw_field else None
    phrase = match.group("phrase")
    word = match.group("word")
    if raw_field and field_name is None:
        # Unknown "foo:bar" is just two words to us.
        word = f"{raw_field} {phrase if phrase is not None else word}"
        phrase = None
    if phrase is not None:
        toks = analyse(phrase)
        return Clause("phrase", phrase, toks, field_name, negated) if toks else None
    assert word is not None
    kind = "word"
    if word.endswith("*"):
        kind = "prefix"
        word = word.rstrip("*")
    word = word.replace("*", " ")
    if field_name in ("language", "decade", "status"):
        value = word.strip().strip(",;.")
        return Clause("word", value, [value], field_name, negated) if value else None
    toks = analyse(word)
    if not toks:
        return None
    if kind == "prefix" and (len(toks) != 1 or len(toks[0]) < MIN_PREFIX):
        if len(toks) == 1 and not is_unspaced(toks[0]):
            return None  # "a*": too broad to be a useful search
        kind = "word"
    return Clause(kind, word, toks, field_name, negated)
