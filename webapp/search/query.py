"""The query language people type, parsed into a small tree and turned into Whoosh queries.

Syntax: words (all must match), ``"quoted phrases"``, ``OR`` between two terms, ``-word`` to
exclude, ``prefix*``, and ``field:value`` for power users (``place:Ivry``, ``theme:travail``,
``lang:ar``, ``decade:1960``, ``title:…``). Every input parses: unknown syntax degrades to words
and junk degrades to "no usable term", which the engine turns into a friendly message. This module
must never raise on user input and never decide visibility (the engine adds that filter).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from whoosh import query as wq

from webapp.search.analysis import STEMMED_LANGUAGES, is_unspaced, primary_language, stem
from webapp.search.analysis import tokens as analyse
from webapp.search.schema import facet_term

#: Ranking weights: a match in the title or a place counts more than one in the body.
TITLE_BOOST = 3.0
PLACE_BOOST = 2.5
STEM_BOOST = 0.7

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

_TEXT_FIELDS = {
    "place": "places",
    "title": "title",
    "theme": "themes",
    "organisation": "organisation",
    "collection": "collections",
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


def _normalise_decade(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    if not digits:
        return value
    year = int(digits)
    if year < 100:  # "60s" → 1960
        year += 1900
    return str(year - year % 10)


def _text_query(fieldname: str, toks: list[str], boost: float = 1.0) -> wq.Query:
    if len(toks) == 1:
        return wq.Term(fieldname, toks[0], boost=boost)
    return wq.Phrase(fieldname, toks, boost=boost)


def _word_query(toks: list[str], exact: bool) -> wq.Query:
    """A word anywhere: title and places weigh more; stems only for a single bare word."""
    if len(toks) > 1:
        return wq.Or(
            [
                _text_query("title", toks, TITLE_BOOST),
                _text_query("places", toks, PLACE_BOOST),
                _text_query("body", toks),
            ]
        )
    token = toks[0]
    alternatives: list[wq.Query] = [
        wq.Term("title", token, boost=TITLE_BOOST),
        wq.Term("places", token, boost=PLACE_BOOST),
        wq.Term("body", token),
    ]
    if not exact:
        seen: set[str] = set()
        for language in STEMMED_LANGUAGES:
            stemmed = stem(language, token)
            if not stemmed:
                continue
            alternatives.append(wq.Term("stem", f"{language}:{stemmed}", boost=STEM_BOOST))
            if stemmed != token and stemmed not in seen:
                seen.add(stemmed)
                alternatives.append(wq.Term("body", stemmed, boost=STEM_BOOST))
    return wq.Or(alternatives)


def clause_query(clause: Clause) -> wq.Query:
    """The Whoosh query for one clause."""
    toks = clause.tokens
    if clause.field == "language":
        return wq.Term("facet", facet_term("language", primary_language(clause.text)))
    if clause.field == "decade":
        return wq.Term("facet", facet_term("decade", _normalise_decade(clause.text)))
    if clause.field == "status":
        return wq.Term("facet", facet_term("status", clause.text))
    if clause.field in _TEXT_FIELDS:
        fieldname = _TEXT_FIELDS[clause.field]
        if clause.kind == "prefix":
            return wq.Prefix(fieldname, toks[0])
        return _text_query(fieldname, toks)
    if clause.kind == "prefix":
        return wq.Or(
            [
                wq.Prefix("title", toks[0], boost=TITLE_BOOST),
                wq.Prefix("places", toks[0], boost=PLACE_BOOST),
                wq.Prefix("body", toks[0]),
            ]
        )
    return _word_query(toks, exact=clause.kind == "phrase")


def to_whoosh(parsed: ParsedQuery, *, allow_status: bool) -> wq.Query | None:
    """The Whoosh query for a parsed query, or None when nothing usable remains.

    ``status:`` clauses are dropped unless ``allow_status`` (archivists): the public filter is
    added by the engine and must not be widened or narrowed by what a visitor types.
    """

    def usable(clause: Clause) -> bool:
        return clause.field != "status" or allow_status

    positives: list[wq.Query] = []
    for group in parsed.groups:
        alternatives = [clause_query(c) for c in group if usable(c)]
        if alternatives:
            positives.append(alternatives[0] if len(alternatives) == 1 else wq.Or(alternatives))
    negatives = [clause_query(c) for c in parsed.excluded if usable(c)]
    if not positives and not negatives:
        return None
    positive: wq.Query
    if not positives:
        positive = wq.Every()
    elif len(positives) == 1:
        positive = positives[0]
    else:
        positive = wq.And(positives)
    if negatives:
        return wq.AndNot(positive, negatives[0] if len(negatives) == 1 else wq.Or(negatives))
    return positive
