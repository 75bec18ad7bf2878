"""What the speed work keeps true: caches that outlive a request never show a withdrawn story,
snippets built the fast way are the snippets built word by word, a fresh index instance (a web
process starting, warming up in a thread) answers its first search right."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from tests.search.conftest import ids, story
from webapp.search import SearchIndex, SearchRequest
from webapp.search.analysis import tokens
from webapp.search.columns_io import build_lengths, var_bytes_values
from webapp.search.engine import SCORED_FIELDS
from webapp.search.highlight import MatchRules, _spans, _spans_by_word, snippet

_WORDS = [
    "l’usine",
    "L'usine",
    "usines",
    "Usine",
    "école",
    "écoles",
    "ECOLE",
    "maison",
    "maisons",
    "Maisonnée",
    "travail",
    "travaux",
    "travaillait",
    "bidonville",
    "Bidonvilles",
    "Nanterre",
    "Vitry-sur-Seine",
    "œuvre",
    "oeuvres",
    "naïve",
    "naïf",
    "qu’il",
    "jusqu’à",
    "d’Alger",
    "Alger",
    "algérien",
    "working",
    "worked",
    "works",
    "worker",
    "children",
    "child",
    "happiness",
    "happy",
    "happier",
    "dying",
    "die",
    "lying",
    "«",
    "guillemets",
    "»",
    "—",
    "tiret…",
    "<b>gras</b>",
    "&",
    "1962",
    "1960s",
]


def test_snippets_found_chunk_by_chunk_are_those_found_word_by_word() -> None:
    rng = random.Random(17)
    for _ in range(300):
        text = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(0, 700)))
        language = rng.choice(["fr", "en", "de", ""])
        query = [rng.choice(_WORDS) for _ in range(rng.randint(1, 3))]
        terms = [t for word in query for t in tokens(word)]
        for size in (40, 240):
            slow = _spans_by_word(text, MatchRules.build(terms), language, size)
            # The first time the text is tokenised; then it is known whole, and found again by
            # substring tests: both ways give the word-by-word answer.
            first = _spans(text, MatchRules.build(terms), language, size)
            again = _spans(text, MatchRules.build(terms), language, size)
            assert first == slow, (query, language, size)
            assert again == slow, (query, language, size)


def test_a_known_text_is_searched_again_for_words_learned_since(monkeypatch) -> None:
    """A text known whole, then a query whose words were never met before, then a vocabulary
    forgotten and refilled: the snippets stay those of the word-by-word walk."""
    import webapp.search.highlight as highlight

    text = "Ma grand-mère est arrivée à Marseille en 1962, puis à Vitry, près des usines."
    for query in (["marseille"], ["usine"], ["inconnu"], ["arrivee", "vitry"]):
        rules = MatchRules.build(query)
        assert _spans(text, rules, "fr", 240) == _spans_by_word(text, rules, "fr", 240)
    monkeypatch.setattr(highlight, "_VOCABULARY_LIMIT", 5)  # every learning now forgets all
    for _ in range(2):
        for query in (["grand"], ["usines"], ["1962"], ["pres"]):
            rules = MatchRules.build(query)
            assert _spans(text, rules, "fr", 240) == _spans_by_word(text, rules, "fr", 240)


def test_a_story_found_by_its_title_shows_the_start_of_its_excerpt_every_time(
    index: SearchIndex,
) -> None:
    index.upsert(story(3, "Le marché de Créteil", "Ma mère y vendait des épices. " * 60))
    for _ in range(3):
        (hit,) = index.search(SearchRequest(q="marché")).hits
        assert hit.snippet_html.startswith("Ma mère y vendait des épices.")
        assert "<mark>" not in hit.snippet_html
        (hit,) = index.search(SearchRequest(q="épice")).hits
        assert "<mark>épices</mark>" in hit.snippet_html


def test_a_snippet_deep_in_the_excerpt_marks_stems_and_escapes() -> None:
    text = "Début. " + "rien " * 400 + "Les <usines> de Nanterre, l’usine fermée. " + "fin " * 50
    html = snippet(text, MatchRules.build(["usine"]), "fr")
    assert "&lt;<mark>usines</mark>&gt;" in html
    assert "l’<mark>usine</mark>" in html
    assert not html.startswith("Début")


def test_a_withdrawn_story_leaves_results_and_facets_at_once_with_caches_warm(
    index: SearchIndex, index_path: Path
) -> None:
    index.upsert_many(
        [
            story(1, "L'usine de Vitry", "Mon père à l'usine.", places=["Vitry-sur-Seine"]),
            story(2, "Usine", "Une usine à Créteil.", places=["Créteil"]),
        ]
    )
    other_process = SearchIndex(index_path)  # a web process with its own warm caches
    try:
        for reader in (index, other_process):
            for _ in range(2):  # the second search runs on everything cached by the first
                page = reader.search(SearchRequest(q="usine"))
                assert page.total == 2
                assert "<mark>" in page.hits[0].snippet_html
        index.upsert(
            story(
                1,
                "L'usine de Vitry",
                "Mon père à l'usine.",
                places=["Vitry-sur-Seine"],
                status="withdrawn",
            )
        )
        for reader in (index, other_process):
            page = reader.search(SearchRequest(q="usine"))
            assert [hit.id for hit in page.hits] == [2]
            assert page.total == 1
            assert [v.value for v in page.facets["place"]] == ["Créteil"]
            assert ids(reader, "vitry") == []
    finally:
        other_process.close()


def test_a_fresh_index_answers_its_first_search_while_warming_up(
    index: SearchIndex, index_path: Path
) -> None:
    index.upsert_many([story(n, f"Récit {n}", "Le bidonville de Nanterre.") for n in range(1, 40)])
    index.upsert(story(99, "Autre", "Rien à voir.", status="submitted"))
    fresh = SearchIndex(index_path)
    try:
        warming = threading.Thread(target=fresh.warm_up)
        warming.start()
        page = fresh.search(SearchRequest(q="bidonville", per_page=50))
        warming.join()
        assert page.total == 39
        assert all("<mark>bidonville</mark>" in hit.snippet_html for hit in page.hits)
        assert fresh.count() == 39  # the submitted story stays invisible
    finally:
        fresh.close()


def test_warming_an_empty_index_is_harmless(index: SearchIndex) -> None:
    index.warm_up()
    assert index.search(SearchRequest(q="rien")).total == 0


def test_columns_read_in_bulk_equal_whoosh_reads_document_by_document(
    index: SearchIndex, index_path: Path
) -> None:
    index.upsert_many([story(n, f"Titre {n}", "mot " * n, places=["Orly"]) for n in range(1, 30)])
    index.upsert(story(5, "Titre cinq", "autre texte"))  # a deletion in the first segment
    with index._use_reader():  # noqa: SLF001 - the reader's own Whoosh segments
        for sub, _offset in index._fresh_searcher().leaf_searchers():  # noqa: SLF001
            reader = sub.reader()
            column = reader.column_reader("facets")
            assert var_bytes_values(column) == list(column)
            count = reader.doc_count_all()
            lengths = build_lengths(reader._perdoc, count, SCORED_FIELDS)  # noqa: SLF001
            for field in SCORED_FIELDS:
                assert lengths[field] == [reader.doc_field_length(d, field) for d in range(count)]


def test_a_web_process_warms_the_index_its_first_search_uses(app) -> None:
    from webapp import search_warmup
    from webapp.services import backends, searching

    with app.app_context():
        backends.search_index().upsert(story(7, "Le bidonville", "Souvenirs de Nanterre."))
        backends.search_index().close()  # as a process that has not read the index yet
    warming = search_warmup.start(app)
    assert warming is not None
    warming.join(timeout=30)
    with app.app_context():
        index = backends.search_index()
        assert any(reader.snap is not None for reader in index._idle)  # noqa: SLF001 - warmed
        page = searching.search_stories(SearchRequest(q="bidonville"))
    assert [hit.id for hit in page.hits] == [7]


@pytest.mark.parametrize("offsets", ["derived from lengths", "written by Whoosh"])
def test_stored_fields_read_with_numpy_offsets_equal_whoosh_reads(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch, offsets: str
) -> None:
    """Both layouts of the stored column (Whoosh writes the offsets only past 32,768 documents
    in a segment; forced here) read back exactly as Whoosh's own reader gives them, empty
    documents and a deleted one included."""
    from whoosh.columns import VarBytesColumn

    from webapp.search.columns_io import StoredFields

    if offsets == "written by Whoosh":
        monkeypatch.setattr(VarBytesColumn.Writer.__init__, "__defaults__", (True, 0))
    index.upsert_many([story(n, f"Titre {n}", "mot " * n, places=["Orly"]) for n in range(1, 30)])
    index.upsert(story(5, "Titre cinq", "autre texte « é »"))  # a deletion in the first segment
    with index._use_reader():  # noqa: SLF001 - the reader's own Whoosh segments
        searcher = index._fresh_searcher()  # noqa: SLF001
        snap = index._snapshot()  # noqa: SLF001
        leaves = searcher.leaf_searchers()
        assert len(leaves) == 2
        for sub, offset in leaves:
            reader = sub.reader()
            stored = StoredFields(reader)
            column = reader._perdoc._colfiles["_stored"][0]  # noqa: SLF001
            for docnum in range(reader.doc_count_all()):
                assert stored(docnum) == reader.stored_fields(docnum)
                assert snap.stored_fields(offset + docnum) == reader.stored_fields(docnum)
            assert column is reader._perdoc._colfiles["_stored"][0]  # noqa: SLF001 - one file
            _file, base, length = reader._perdoc._colfiles["_stored"]  # noqa: SLF001
            layout = chr(column.get_byte(base + length - 1))
            assert (layout == "X") == (offsets == "written by Whoosh")
        assert snap.stored_fields(0)["data"]["title"] == "Titre 1"
