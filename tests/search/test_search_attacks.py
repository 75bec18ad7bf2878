"""Hostile review (probe17) of the search changes of 2026-12-02: snippets from "known" texts,
decoded segment files, numpy phrase matching and the warm-up that steps aside for searches.

Each test states the claim it attacks. Eight of them failed on main at 8e70363 and are the
regression tests of their fixes (a transcript word with a combining mark, the two vocabulary
races, decomposed Latin accents, decoded files of another segment or cut short, a killed
writer's temporary file, the decoded files' permissions); the others passed and guard what the
attack checked.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from whoosh import index as windex
from whoosh import query as wq

from tests.search.conftest import story
from webapp.search import SearchIndex, SearchRequest, highlight
from webapp.search.analysis import tokens
from webapp.search.highlight import MatchRules, learn_words, mentions, snippet

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------------- snippets


def _reference(text: str, query: str, language: str, prefixes: tuple[str, ...] = ()) -> str:
    """The snippet the word-by-word walk gives (the claim: every path gives exactly this)."""
    rules = MatchRules.build(tokens(query), prefixes)
    spans = highlight._spans_by_word(text, rules, language, highlight.SNIPPET_CHARS)  # noqa: SLF001
    saved = highlight._spans  # noqa: SLF001
    highlight._spans = lambda *_a: spans  # noqa: SLF001
    try:
        return snippet(text, rules, language)
    finally:
        highlight._spans = saved  # noqa: SLF001


def _served(text: str, query: str, language: str, prefixes: tuple[str, ...] = ()) -> str:
    """The snippet a results page shows (a new ``MatchRules`` per request, as the engine)."""
    return snippet(text, MatchRules.build(tokens(query), prefixes), language)


def test_a_transcript_word_with_a_combining_mark_is_marked_alike_before_and_after() -> None:
    """Claim: a known text's snippet is exactly the word-by-word walk's.

    A transcript line holding a character of an unspaced script is tokenised with the full
    pattern, which keeps a decomposed accent inside its word ("e" + U+0301 + "cole" is one word)
    and teaches the vocabulary that word. An excerpt in Latin script only is tokenised with the
    simple pattern ("e", "cole"). Once the excerpt is known whole, the substring path finds the
    transcript's word in it and marks it: the first page shows no mark, every later page does.
    """
    word = "e\u0301colequixote"  # decomposed, as macOS and some speech-to-text output write it
    excerpt = f"Notre {word} ferme en juin."
    # A moment of a recording: the line is searched with ``mentions`` (full pattern).
    assert mentions(f"la {word} de 学校", MatchRules.build(tokens("écolequixote")), "fr")
    expected = _reference(excerpt, "écolequixote", "fr")
    first = _served(excerpt, "écolequixote", "fr")  # learns the excerpt: known whole after this
    second = _served(excerpt, "écolequixote", "fr")
    assert first == expected
    assert second == expected, (first, second)


def test_a_page_racing_the_warm_up_still_marks_a_word_the_warm_up_just_learned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Claim: a known text's snippet is exactly the word-by-word walk's, under many threads.

    ``_Vocabulary.learn`` moves ``generation`` on *before* it indexes the new words. A request
    that lists the query's known words in that moment (for another, known story) caches the
    list under the new generation; when the warm-up (or another request) then marks a text
    holding the new word as known, the request's snippet of that text uses the stale list and
    shows the story without its mark. Made deterministic by pausing the learner on one word.
    """
    known_story = "La zorblatine du port de Gennevilliers."
    learned_story = "Les zorblatines du canal de l'Ourcq."
    learn_words(known_story, "fr")  # a story known whole before the page
    inside, proceed = threading.Event(), threading.Event()
    real_keys = highlight._word_keys  # noqa: SLF001

    def slow_keys(word: str, language: str) -> frozenset[str]:
        if word == "zorblatines":
            inside.set()
            proceed.wait(5)
        return real_keys(word, language)

    monkeypatch.setattr(highlight, "_word_keys", slow_keys)
    warm_up = threading.Thread(target=learn_words, args=(learned_story, "fr"))
    warm_up.start()
    assert inside.wait(5)
    rules = MatchRules.build(tokens("zorblatine"))  # one results page
    assert "<mark>zorblatine</mark>" in snippet(known_story, rules, "fr")
    proceed.set()
    warm_up.join(5)
    assert (
        snippet(learned_story, rules, "fr")
        == _reference(learned_story, "zorblatine", "fr")
        == "Les <mark>zorblatines</mark> du canal de l&#x27;Ourcq."
    )


def test_a_page_built_while_another_thread_fills_the_vocabulary_keeps_its_marks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Claim: the vocabulary is thread-safe. ``matching_words`` reads ``seen`` (every word of
    the chunk known: nothing to learn) and then ``by_key``; when another thread's ``learn``
    passes :data:`_VOCABULARY_LIMIT` in between, ``by_key`` was emptied and the page's snippet
    has no mark at all. The interleaving is forced by running that other thread's learning
    at the moment the reader looks the keys up."""
    monkeypatch.setattr(highlight, "_VOCABULARY_LIMIT", 50)
    text = "Le port fluvial de Bonneuil et son portique."
    learn_words(text, "fr")  # the chunk's words are all seen
    vocabulary = highlight._vocabulary("fr")  # noqa: SLF001
    real = highlight._VocabularyState.matching  # noqa: SLF001
    fired = []

    def interleaved(self: highlight._VocabularyState, keys: frozenset[str]) -> set[str]:  # noqa: SLF001
        if not fired:
            fired.append(1)
            vocabulary.learn({f"mot{n}" for n in range(60)}, "fr")  # another request's page
        return real(self, keys)

    monkeypatch.setattr(highlight._VocabularyState, "matching", interleaved)  # noqa: SLF001
    vocabulary.state.whole_texts.discard(hash(text))  # the chunk path (a text not known whole yet)
    assert _served(text, "port", "fr") == _reference(text, "port", "fr")


def test_a_decomposed_accent_in_latin_text_is_marked() -> None:
    """Not from today's changes (``raw_token_pattern`` at 1c848ce already): combining marks
    below U+0590 (Latin, Greek, Cyrillic accents written decomposed) do not make the simple
    raw pattern inexact, so "e" + U+0301 + "cole" is read as "e" and "cole" and a story found
    by "école" shows its snippet without a mark, on every page."""
    text = "Notre e\u0301cole ferme en juin."
    assert "<mark>" in _reference(text, "école", "fr")


_WORDS = [
    "usine",
    "Usine",
    "USINES",
    "usines",
    "usiné",
    "usinage",
    "l'usine",
    "l’usine",
    "aujourd'hui",
    "marché",
    "marche",
    "MARCHÉ",
    "Straße",
    "strasse",
    "œuvre",
    "Œuvres",
    "ﬁlature",
    "filature",
    "Москва",
    "москвы",
    "Αθήνα",
    "αθηνα",
    "gare_routière",
    "rue-du-port",
    "2e",
    "1968",
    "½",
    "<b>usine</b>",
    "&amp;",
    "a" * 300,
    "a" * 301,
    "usineusineusine",
    "Vitry-sur-Seine",
    "port",
    "portes",
    "porte",
    "déporté",
    "l'œuvre",
    "d’Orly",
    "orly",
    "x",
    "é",
]
_QUERIES = [
    "usine",
    "usines",
    "USINE",
    "marché",
    "marche",
    "strasse",
    "oeuvre",
    "filature",
    "москва",
    "αθηνα",
    "gare",
    "routière",
    "port",
    "porte",
    "orly",
    "1968",
    "2",
    "b",
    "amp",
    "a" * 300,
    "x",
    "e",
    "aujourd",
    "hui",
]


@pytest.mark.parametrize("language", ["fr", "en", "de", ""])
def test_crafted_texts_give_the_word_by_word_snippet_on_every_page(
    language: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claim: snippets are exactly those of the word-by-word walk, always: first page (text
    unknown), later pages (known whole), after the vocabulary was forgotten (epochs), with a
    page's learning budget spent, and with prefix queries."""
    rng = random.Random(f"probe17-{language}")
    monkeypatch.setattr(highlight, "_VOCABULARY_LIMIT", 150)  # forgotten every few texts
    monkeypatch.setattr(highlight, "LEARNING_BUDGET", 7)
    texts = []
    for _ in range(60):
        n = rng.choice([3, 20, 120, 400])
        texts.append(" ".join(rng.choice(_WORDS) for _ in range(n)))
    texts.append(("filler " * 200) + "usine")  # the match only after the first chunks
    texts.append("usine" + "x" * 5000)  # one very long word
    failures = []
    for _round in range(3):
        for text in texts:
            for query in rng.sample(_QUERIES, 6):
                prefixes = (tokens(query)[0],) if rng.random() < 0.15 else ()
                got = _served(text, query, language, prefixes)
                want = _reference(text, query, language, prefixes)
                if got != want:
                    failures.append((text[:80], query, got[:200], want[:200]))
    assert not failures, failures[:3]


@pytest.mark.parametrize("limit", [400, highlight._VOCABULARY_LIMIT])  # noqa: SLF001
def test_many_threads_learning_and_forgetting_give_the_word_by_word_spans(
    limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claim: the vocabulary is thread-safe: threads learning, forgetting (a small limit) and
    building snippets at once never produce spans other than the word-by-word walk's. A
    statistical check (the deterministic race is the test above)."""
    monkeypatch.setattr(highlight, "_VOCABULARY_LIMIT", limit)
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    rng = random.Random(17)
    texts = [
        " ".join(rng.choice(_WORDS[:30]) for _ in range(rng.randint(5, 60))) for _ in range(40)
    ]
    texts += [f"{t} zyx{i}" for i, t in enumerate(texts)]  # fresh words keep the learning going
    expected = {(t, q): _reference(t, q, "fr") for t in texts for q in _QUERIES[:8]}
    failures: list[tuple[str, str, str]] = []
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        r = random.Random(seed)
        try:
            end = time.monotonic() + 2.0
            while time.monotonic() < end:
                text, query = r.choice(list(expected))
                if r.random() < 0.2:
                    learn_words(text + f" w{seed}x{r.randint(0, 10**6)}", "fr")
                got = _served(text, query, "fr")
                if got != expected[(text, query)]:
                    failures.append(
                        (query, got.count("<mark>"), expected[(text, query)].count("<mark>"), got)
                    )
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    try:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        sys.setswitchinterval(old_interval)
    assert not errors, errors[:1]
    assert not failures, failures[:3]


def test_snippet_html_stays_escaped_in_known_texts() -> None:
    """A story's own markup never reaches the page, on the substring path either."""
    text = 'Le <script>alert("usine")</script> et <mark>usine</mark> &lt;usine&gt;'
    for _ in range(3):
        out = _served(text, "usine", "fr")
        assert "<script>" not in out and out.count("<mark>") == 3
        assert out == _reference(text, "usine", "fr")


# ----------------------------------------------------------------------- decoded segments


def _decoded_files(index_path: Path) -> list[Path]:
    return sorted(index_path.rglob("*.decoded*"))


def test_a_one_story_segment_refuses_another_one_story_segments_file(
    index: SearchIndex, index_path: Path
) -> None:
    """Claim: a mismatched decoded file is ignored; visibility is never affected.

    The only check is the document count, and every single-story update makes a one-document
    segment: any such segment's file fits any other. Copied in (a careless restore, a file from
    another index), a published story's file over a submitted story's shows the submitted story
    to the public, under the other story's id and places.
    """
    index.upsert(story(4, "Usine", "La halle de Zeugmaville.", places=["Orly"]))
    index.upsert(story(5, "Brouillon", "Le secret Quintessor.", status="submitted"))
    assert index.search(SearchRequest(q="quintessor")).total == 0
    files = _decoded_files(index_path)
    assert len(files) == 2
    (draft,) = [f for f in files if b"submitted" in f.read_bytes()]
    (published,) = [f for f in files if f != draft]
    draft.write_bytes(published.read_bytes())
    fresh = SearchIndex(index_path)
    try:
        assert fresh.count() == 1
        assert fresh.search(SearchRequest(q="quintessor")).total == 0
        assert fresh.matching_story_ids("quintessor") == {5}
    finally:
        fresh.close()


def test_a_decoded_file_with_the_right_count_but_short_lists_is_ignored(
    index: SearchIndex, index_path: Path
) -> None:
    """Claim: a damaged decoded file is ignored and rewritten. A file that unpickles into a
    ``DecodedSegment`` with the right count but lists of another length (a bug, an edited
    file) is taken as it is."""
    import pickle

    index.upsert_many([story(n, f"Récit {n}", "Le bidonville de Nanterre.") for n in (1, 2, 3)])
    index.upsert(story(4, "Récit 4", "Le bidonville de Nanterre.", status="submitted"))
    assert index.search(SearchRequest(q="bidonville")).total == 3
    big = max(_decoded_files(index_path), key=lambda f: f.stat().st_size)
    decoded = pickle.loads(big.read_bytes())
    decoded.status = decoded.status[:1]
    decoded.story_id = decoded.story_id[:1]
    decoded.period_start = decoded.period_start[:1]
    big.write_bytes(pickle.dumps(decoded))
    fresh = SearchIndex(index_path)
    try:
        page = fresh.search(SearchRequest(q="bidonville"))
        assert page.error is None
        assert sorted(h.id for h in page.hits) == [1, 2, 3]
        assert fresh.matching_story_ids("bidonville") == {1, 2, 3, 4}
    finally:
        fresh.close()


_KILLED_WRITER = """
import os, sys
from webapp.search import SearchIndex, SearchRequest
index = SearchIndex(sys.argv[1])
real_replace = os.replace

def replace(src, dst, *args, **kwargs):
    # SIGKILL (gunicorn's worker timeout, the OOM killer) or a power cut: after the temporary
    # file is written, before it is renamed.
    if ".decoding-" in str(src) and b"Zeugmaville" in open(src, "rb").read():
        os._exit(9)
    return real_replace(src, dst, *args, **kwargs)

os.replace = replace
index.search(SearchRequest(q="usine"))
"""


def test_an_erased_story_does_not_outlive_its_segment_in_a_killed_writers_temporary_file(
    index: SearchIndex, index_path: Path
) -> None:
    """Claim: an erased story's values never outlive its segment.

    A process killed while writing a decoded file leaves ``<segment>.decoding-*`` behind, which
    clean-up skips names starting with a dot, and nothing else removes them, so the erased
    story's places stay in the index folder for good (and every such kill adds a file)."""
    index.upsert(story(3, "Usine", "Une usine à Créteil.", places=["Créteil"]))
    index.upsert(story(4, "Usines", "Les usines de Zeugmaville.", places=["Zeugmaville"]))
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER, str(index_path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 9, done.stderr.decode()[-2000:]
    assert list(index_path.rglob("*.decoding-*"))  # the killed write's leftover
    index.purge(4)
    index.compact()
    index.upsert(story(5, "Gare", "La gare."))
    assert index.search(SearchRequest(q="usine")).total == 1
    holding = [
        f.name for f in index_path.rglob("*") if f.is_file() and b"Zeugmaville" in f.read_bytes()
    ]
    assert not holding


def test_decoded_files_have_the_segment_files_permissions(
    index: SearchIndex, index_path: Path
) -> None:
    """The decoded file is made with ``mkstemp`` (mode 0600) and renamed: unlike the segment
    beside it (0644 under the usual umask), another user (the web server's, when a command such
    as ``passages reindex`` runs as the deploy user) cannot read it and logs a warning on every
    process start, then replaces it with its own unreadable-to-the-other file."""
    index.upsert(story(1, "Usine", "Une usine."))
    index.search(SearchRequest(q="usine"))
    (decoded,) = _decoded_files(index_path)
    (terms,) = decoded.parent.glob("*.trm")
    assert oct(decoded.stat().st_mode & 0o777) == oct(terms.stat().st_mode & 0o777)


def test_a_truncated_decoded_file_is_ignored_and_rewritten(
    index: SearchIndex, index_path: Path
) -> None:
    index.upsert_many([story(n, f"Récit {n}", "Une usine.") for n in range(1, 6)])
    assert index.search(SearchRequest(q="usine")).total == 5
    (decoded,) = _decoded_files(index_path)
    whole = decoded.read_bytes()
    for cut in (0, 1, len(whole) // 2, len(whole) - 1):
        decoded.write_bytes(whole[:cut])
        fresh = SearchIndex(index_path)
        try:
            assert fresh.search(SearchRequest(q="usine")).total == 5
        finally:
            fresh.close()
        assert decoded.read_bytes() == whole


def test_an_unwritable_index_folder_still_answers(
    index: SearchIndex, index_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only index folder (simulated: tests run as root, where chmod does not bite)."""
    from webapp.search import derived_files

    index.upsert(story(1, "Usine", "Une usine."))

    def refuse(*_a: object, **_k: object) -> None:
        raise PermissionError("read-only file system")

    monkeypatch.setattr(derived_files.tempfile, "mkstemp", refuse)
    for _ in range(2):
        fresh = SearchIndex(index_path)
        try:
            assert fresh.search(SearchRequest(q="usine")).total == 1
        finally:
            fresh.close()
    assert not _decoded_files(index_path)


def test_a_story_published_withdrawn_and_updated_many_times_is_seen_right_by_every_new_process(
    index: SearchIndex, index_path: Path
) -> None:
    """Claim: visibility is never affected by the decoded files: a story's status changes
    (publish → withdraw → publish …), each seen by a fresh process reading the files that
    earlier processes wrote, with compactions between."""
    index.upsert(story(2, "Voisin", "Le voisin de Quintessor.", places=["Ivry"]))
    for n in range(24):
        status = "published" if n % 2 == 0 else "withdrawn"
        index.upsert(
            story(1, f"Version {n}", "La halle Quintessor.", places=[f"P{n}"], status=status)
        )
        if n % 7 == 6:
            index.compact()
        fresh = SearchIndex(index_path)
        try:
            page = fresh.search(SearchRequest(q="quintessor"))
            shown = sorted(h.id for h in page.hits)
            assert shown == ([1, 2] if status == "published" else [2]), (n, status, shown)
            places = {v.value for v in page.facets.get("place", [])}
            assert (f"P{n}" in places) == (status == "published"), (n, places)
            assert fresh.count() == (2 if status == "published" else 1)
            assert fresh.matching_story_ids("quintessor") == {1, 2}
        finally:
            fresh.close()
    assert len(_decoded_files(index_path)) == index.segment_count()


_CONCURRENT_READER = """
import sys, time
from webapp.search import SearchIndex, SearchRequest
index = SearchIndex(sys.argv[1])
while time.time() < float(sys.argv[2]):
    pass
print(index.search(SearchRequest(q="usine")).total, index.count())
"""


def test_processes_starting_together_write_one_good_file_each_segment(
    index: SearchIndex, index_path: Path
) -> None:
    """Gunicorn's workers start at once and all decode the same segments: the files must end
    up whole, with no temporary file left, and every worker must answer alike."""
    index.upsert_many([story(n, f"Récit {n}", "Une usine.") for n in range(1, 200)])
    index.upsert(story(500, "Brouillon", "Une usine.", status="submitted"))
    start = time.time() + 1.5
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CONCURRENT_READER, str(index_path), str(start)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e.decode()[-1000:] for _, e in outs]
    assert {o.decode().strip() for o, _ in outs} == {"199 199"}
    assert len(_decoded_files(index_path)) == 2
    assert not list(index_path.rglob("*.decoding-*"))
    import pickle

    from webapp.search import decoded_segments

    for f in _decoded_files(index_path):
        decoded = pickle.loads(f.read_bytes())
        assert isinstance(decoded, decoded_segments.DecodedSegment)
        assert len(decoded.status) == len(decoded.story_id) == decoded.doc_count
    fresh = SearchIndex(index_path)
    try:
        assert fresh.search(SearchRequest(q="usine")).total == 199
    finally:
        fresh.close()


# --------------------------------------------------------------------------------- phrases


_VOCAB = ["usine", "gare", "port", "pont", "rue", "café", "train", "mère", "père", "lettre"]


@pytest.fixture(scope="module")
def phrase_corpus(tmp_path_factory: pytest.TempPathFactory):
    """Stories in German (no stemming) with several places each, a few very long bodies (more
    than 65,536 positions, several blocks of postings per word), rare words that only some
    segments hold (inlined posting lists), and deleted earlier versions."""
    rng = random.Random(2026_12_02)
    index = SearchIndex(tmp_path_factory.mktemp("probe17") / "index")
    docs = []
    for n in range(1, 301):
        body_len = rng.choice([2, 5, 30, 300]) if n % 50 else 70_000
        body = " ".join(rng.choice(_VOCAB) for _ in range(body_len))
        if n % 37 == 0:
            body += " zeugma quirinal zeugma zeugma quirinal"
        if n == 123:  # words of one story only: Whoosh inlines such posting lists
            body += " solitudine unicorno solitudine"
        places = [
            " ".join(rng.choice(_VOCAB) for _ in range(rng.randint(1, 3)))
            for _ in range(rng.randint(0, 3))
        ]
        docs.append(
            story(
                n,
                " ".join(rng.choice(_VOCAB) for _ in range(rng.randint(1, 4))),
                body,
                language="de",
                places=places,
                status=rng.choice(["published", "submitted"]),
            )
        )
    index.rebuild(docs[:150])
    for start in range(150, 300, 30):
        index.upsert_many(docs[start : start + 30])
    index.upsert_many(docs[:20])
    index.upsert(docs[36])
    yield index, docs
    index.close()


def _whoosh_phrase(index: SearchIndex, fields: tuple[str, ...], words: list[str]) -> set[int]:
    folder = index.path / index._current_generation()  # noqa: SLF001
    q = wq.Or([wq.Phrase(f, [tokens(w)[0] for w in words]) for f in fields])
    with windex.open_dir(str(folder)).searcher() as searcher:
        return {int(hit["id"]) for hit in searcher.search(q, limit=None)}


def test_phrases_match_whooshs_own_matcher_on_long_texts_places_and_rare_words(
    phrase_corpus,
) -> None:
    index, _docs = phrase_corpus
    rng = random.Random(99)
    phrases = [
        ["zeugma", "quirinal"],
        ["quirinal", "zeugma"],
        ["zeugma", "zeugma"],
        ["zeugma", "quirinal", "zeugma", "zeugma"],
    ]
    phrases += [["usine", "zeugma"], ["zeugma", "absentword"], ["solitudine", "unicorno"]]
    phrases += [["unicorno", "solitudine"], ["solitudine", "solitudine"]]
    for _ in range(25):
        phrases.append([rng.choice(_VOCAB) for _ in range(rng.choice([2, 2, 3, 5]))])
    checked = 0
    for words in phrases:
        q = '"' + " ".join(words) + '"'
        expected = _whoosh_phrase(index, ("title", "places", "body"), words)
        assert index.matching_story_ids(q) == expected, q
        place_q = 'place:"' + " ".join(words) + '"'
        assert index.matching_story_ids(place_q) == _whoosh_phrase(index, ("places",), words), (
            place_q
        )
        checked += bool(expected)
    assert checked > 10


def test_a_phrase_never_spans_two_places(index: SearchIndex) -> None:
    index.upsert(story(1, "Récit", "Un récit.", places=["Vitry-sur-Seine", "Créteil"]))
    index.upsert(story(2, "Récit", "Un récit.", places=["Seine Créteil"]))
    assert index.matching_story_ids('"seine créteil"') == {2}
    assert index.matching_story_ids('"sur seine"') == {1}
    assert index.matching_story_ids('place:"vitry sur seine créteil"') == set()


# --------------------------------------------------------------------------------- warm-up


def test_a_failing_warm_up_leaves_searches_working(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webapp.search import engine
    from webapp.search.contract import SearchUnavailable

    index.upsert_many([story(n, "Usine", "Une usine.") for n in range(1, 4)])

    def broken(*_a: object) -> None:
        raise RuntimeError("stemmer crashed")

    monkeypatch.setattr(engine, "learn_words", broken)
    with pytest.raises(SearchUnavailable):
        index.warm_up()
    assert index._searching == 0  # noqa: SLF001
    assert index.search(SearchRequest(q="usine")).total == 3


def test_a_failing_search_does_not_hold_the_warm_up_back(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    index.upsert_many([story(n, "Usine", f"Une usine {n}.") for n in range(1, 4)])

    def broken(*_a: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(index, "_search", broken)
    for _ in range(3):
        with pytest.raises(Exception):  # noqa: B017, PT011
            index.search(SearchRequest(q="usine"))
    assert index._searching == 0  # noqa: SLF001
    started = time.monotonic()
    index.warm_up()
    assert time.monotonic() - started < 2.0


def test_the_warm_up_waits_for_a_running_search_and_goes_on_when_it_ends(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    index.upsert_many([story(n, "Usine", f"Une usine {n}.") for n in range(1, 4)])
    release = threading.Event()
    running = threading.Event()
    real = index._search  # noqa: SLF001

    def slow(*args: object):
        running.set()
        release.wait(10)
        return real(*args)

    monkeypatch.setattr(index, "_search", slow)
    searcher = threading.Thread(target=index.search, args=(SearchRequest(q="usine"),))
    searcher.start()
    assert running.wait(5)
    warm = threading.Thread(target=index.warm_up)
    warm.start()
    warm.join(0.5)
    assert warm.is_alive()  # stepping aside
    release.set()
    searcher.join(10)
    warm.join(5)
    assert not warm.is_alive()
