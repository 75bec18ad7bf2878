"""Oracle: the bulk evaluator finds exactly what Whoosh's own query path finds on the same files.

The engine reads Whoosh's posting blocks directly (``webapp.search.matching``); here Whoosh's
stock matchers (``whoosh.query`` through a ``Searcher``) answer the same term, AND, OR and phrase
queries on the same index files, over a random corpus. Stories are in German, a language without
a stemmer here, so both sides look for exactly the same words.
"""

from __future__ import annotations

import random

import pytest
from whoosh import index as windex
from whoosh import query as wq

from tests.search.conftest import story
from webapp.search import SearchIndex

VOCABULARY = [
    "usine",
    "gare",
    "marché",
    "école",
    "quartier",
    "rue",
    "port",
    "fleuve",
    "pont",
    "jardin",
    "atelier",
    "café",
    "bus",
    "train",
    "lettre",
    "photo",
    "mère",
    "père",
    "frère",
    "soeur",
]
FIELDS = ("title", "places", "body")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> SearchIndex:
    rng = random.Random(20261202)
    index = SearchIndex(tmp_path_factory.mktemp("oracle") / "index")
    docs = []
    for n in range(1, 401):
        body = " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(3, 40)))
        title = " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(1, 3)))
        docs.append(
            story(n, title, body, language="de", status=rng.choice(["published", "submitted"]))
        )
    # Half in one rebuilt segment, the rest as updates (several small segments, deletions).
    index.rebuild(docs[:200])
    for start in range(200, 400, 50):
        index.upsert_many(docs[start : start + 50])
    index.upsert_many(docs[:30])  # re-indexed: their first copies are deleted documents
    yield index
    index.close()


def whoosh_ids(index: SearchIndex, q: wq.Query) -> set[int]:
    """Whoosh's own query path on the served generation's files."""
    folder = index.path / index._current_generation()  # noqa: SLF001
    with windex.open_dir(str(folder)).searcher() as searcher:
        return {int(hit["id"]) for hit in searcher.search(q, limit=None)}


def any_field(make) -> wq.Query:
    return wq.Or([make(field) for field in FIELDS])


def cases(rng: random.Random):
    for _ in range(12):
        a, b, c = rng.sample(VOCABULARY, 3)
        yield a, any_field(lambda f, a=a: wq.Term(f, a))
        yield (
            f"{a} {b}",
            wq.And(
                [any_field(lambda f, a=a: wq.Term(f, a)), any_field(lambda f, b=b: wq.Term(f, b))]
            ),
        )
        yield f"{a} OR {b}", any_field(lambda f, a=a, b=b: wq.Or([wq.Term(f, a), wq.Term(f, b)]))
        yield f'"{a} {b}"', any_field(lambda f, a=a, b=b: wq.Phrase(f, [a, b]))
        yield f'"{a} {b} {c}"', any_field(lambda f, a=a, b=b, c=c: wq.Phrase(f, [a, b, c]))
        # A word twice in a row, and a longer phrase with a repeated word.
        yield f'"{a} {a}"', any_field(lambda f, a=a: wq.Phrase(f, [a, a]))
        yield f'"{a} {b} {a} {c}"', any_field(lambda f, a=a, b=b, c=c: wq.Phrase(f, [a, b, a, c]))


def test_term_and_or_phrase_hits_match_whooshs_own_query_path(corpus: SearchIndex) -> None:
    from webapp.search.analysis import tokens

    checked = 0
    for text, oracle in cases(random.Random(7)):
        # The words as the analyser folds them (é kept or not, exactly as indexed).
        oracle = oracle.accept(lambda q: _folded(q, tokens))
        expected = whoosh_ids(corpus, oracle)
        got = corpus.matching_story_ids(text)
        assert got == expected, text
        checked += bool(expected)
    assert checked > 20  # most probes do find stories: the comparison is not of empty sets


def _folded(q: wq.Query, tokens) -> wq.Query:
    if isinstance(q, wq.Term):
        return wq.Term(q.fieldname, tokens(q.text)[0])
    if isinstance(q, wq.Phrase):
        return wq.Phrase(q.fieldname, [tokens(w)[0] for w in q.words])
    return q
