"""Stems kept beside the index by one web process and read back by the next, and the warm-up
handing its opened reader to a first search that arrived with it.

A fresh process must answer exactly as before (same hits, same highlighting), stem far fewer
words, never believe another stemmer's or a damaged file, and never keep the words of an erased
story."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from tests.search.conftest import (
    ERASED_WORD,
    forget_process_memory,
    stems_archive,
    stems_file,
    story,
)
from webapp.search import SearchIndex, SearchRequest, analysis, engine, known_stems

pytestmark = pytest.mark.usefixtures("new_process_memory")


@pytest.fixture
def stemmer_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every word the French stemmer is asked about."""
    calls: list[str] = []
    real = analysis._STEMMERS["fr"]  # noqa: SLF001

    def counting(word: str) -> str:
        calls.append(word)
        return real(word)

    monkeypatch.setitem(analysis._STEMMERS, "fr", counting)  # noqa: SLF001
    return calls


@pytest.fixture
def keep_every_stem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "KEEP_STEMS_AFTER", 0)


def _page(index: SearchIndex, q: str) -> list[tuple[int, str]]:
    return [(h.id, h.snippet_html) for h in index.search(SearchRequest(q=q)).hits]


def test_a_new_process_reads_the_stems_the_last_one_kept_and_answers_the_same(
    index: SearchIndex, index_path: Path, stemmer_calls: list[str], keep_every_stem: None
) -> None:
    stems_archive(index)
    index.warm_up()
    expected = _page(index, "travailler")
    assert stems_file(index).exists()
    assert any("<mark>travaillaient</mark>" in snippet for _, snippet in expected)

    forget_process_memory()  # a new process
    stemmer_calls.clear()
    fresh = SearchIndex(index_path)
    try:
        fresh.warm_up()
        assert _page(fresh, "travailler") == expected
    finally:
        fresh.close()
    assert set(stemmer_calls) <= {"travailler"}  # only the new query word: the stories' were kept


def test_stems_of_another_stemmer_or_a_damaged_file_are_never_believed(
    index: SearchIndex, index_path: Path, stemmer_calls: list[str], keep_every_stem: None
) -> None:
    stems_archive(index)
    index.warm_up()
    expected = _page(index, "travailler")
    path = stems_file(index)
    kept = json.loads(path.read_text(encoding="utf-8"))
    kept["stems"]["fr"] = ["travaillaient\ttravailler", "zzz\tzzz"]  # lies
    kept["stemmers"] = "another stemmer"
    path.write_text(json.dumps(kept), encoding="utf-8")
    forget_process_memory()
    assert known_stems.load(path.parent) == {}
    assert analysis.stem("fr", "travaillaient") == "travaill"

    path.write_text('{"stemmers": "', encoding="utf-8")  # a power cut while writing
    forget_process_memory()
    assert known_stems.load(path.parent) == {}
    fresh = SearchIndex(index_path)
    try:
        fresh.warm_up()
        assert _page(fresh, "travailler") == expected
    finally:
        fresh.close()


def test_an_erasure_deletes_the_kept_stems_with_the_story_words(
    index: SearchIndex, keep_every_stem: None
) -> None:
    stems_archive(index)
    index.warm_up()
    folder = stems_file(index).parent
    assert ERASED_WORD.lower() in stems_file(index).read_text(encoding="utf-8")
    (folder / ".stems-killedwriter").write_text(ERASED_WORD, encoding="utf-8")  # a killed writer
    index.purge(99)
    word = ERASED_WORD.lower().encode()
    assert not any(word in f.read_bytes().lower() for f in index.path.rglob("*") if f.is_file())


def test_stems_gathered_while_the_index_changed_are_not_kept(
    index: SearchIndex, keep_every_stem: None
) -> None:
    """An erasure committing while a warm-up gathers words: whatever the order, no file."""
    stems_archive(index)
    folder = index.path / index._current_generation()  # noqa: SLF001
    analysis.stem("fr", ERASED_WORD.lower())
    words = {"fr": {ERASED_WORD.lower()}}
    known_stems.save(folder, words, lambda: False)
    assert not (folder / known_stems.FILE_NAME).exists()
    answers = iter([True, False])  # unchanged before writing, changed once written
    known_stems.save(folder, words, lambda: next(answers))
    assert not (folder / known_stems.FILE_NAME).exists()
    assert not list(folder.glob(".stems-*"))


def test_a_warm_up_racing_a_commit_keeps_no_stems(
    index: SearchIndex, index_path: Path, keep_every_stem: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stems_archive(index)
    real = engine.learn_words
    committed = []

    def learn_then_commit(text: str, language: str) -> None:
        real(text, language)
        if not committed:  # another process updates a story in the middle of the warm-up
            committed.append(True)
            SearchIndex(index_path).upsert(story(200, "Nouveau", "Un récit de plus."))

    monkeypatch.setattr(engine, "learn_words", learn_then_commit)
    index.warm_up()
    assert committed
    assert not stems_file(index).exists()


# ----------------------------------------------------------------------- reader hand-over


def _slow_snapshots(monkeypatch: pytest.MonkeyPatch, seconds: float) -> list[str]:
    """Make building a snapshot take ``seconds``; returns the names of the threads that did."""
    builders: list[str] = []
    real = SearchIndex._snapshot  # noqa: SLF001

    def slow(self: SearchIndex):  # noqa: ANN202
        state = self._reader  # noqa: SLF001
        if state.snap is None:
            builders.append(threading.current_thread().name)
            time.sleep(seconds)
        return real(self)

    monkeypatch.setattr(SearchIndex, "_snapshot", slow)
    return builders


def test_a_search_arriving_with_the_warm_up_uses_its_reader_instead_of_opening_another(
    index: SearchIndex, index_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stems_archive(index)
    fresh = SearchIndex(index_path)
    builders = _slow_snapshots(monkeypatch, 0.3)
    try:
        warming = fresh.warm_up_in_background()
        page = fresh.search(SearchRequest(q="usine"))
        warming.join(10)
        assert page.total == 29
        assert builders == ["search-warmup"]  # one snapshot built, by the warm-up
        assert len(fresh._idle) == 1  # noqa: SLF001 - one reader in all
    finally:
        fresh.close()


@pytest.mark.parametrize("failure", ["raises", "hangs"])
def test_a_warm_up_that_fails_or_hangs_holds_a_search_back_at_most_a_few_seconds(
    index: SearchIndex,
    index_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failure: str,
) -> None:
    stems_archive(index)
    fresh = SearchIndex(index_path)
    release = threading.Event()
    monkeypatch.setattr(engine, "WARM_UP_WAIT", 0.5)

    def broken(*_a: object) -> int:
        if failure == "raises":
            raise OSError("disk gone")
        release.wait(10)
        return 0

    monkeypatch.setattr(known_stems, "load", broken)
    try:
        warming = fresh.warm_up_in_background()
        started = time.monotonic()
        assert fresh.search(SearchRequest(q="usine")).total == 29
        assert time.monotonic() - started < 3.0
    finally:
        release.set()
        warming.join(10)
        fresh.close()


def test_a_process_that_stemmed_little_leaves_the_kept_file_alone(
    index: SearchIndex, index_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each gunicorn worker starting reads the file; only one that stemmed many new words
    rewrites it."""
    stems_archive(index)
    monkeypatch.setattr(engine, "KEEP_STEMS_AFTER", 0)
    index.warm_up()
    path = stems_file(index)
    written = path.read_bytes()
    path.touch()
    before = path.stat().st_mtime_ns
    monkeypatch.setattr(engine, "KEEP_STEMS_AFTER", 1_000)
    forget_process_memory()
    fresh = SearchIndex(index_path)
    try:
        fresh.warm_up()
    finally:
        fresh.close()
    assert path.stat().st_mtime_ns == before and path.read_bytes() == written


def test_a_hostile_stems_file_changes_no_stem(index: SearchIndex, keep_every_stem: None) -> None:
    folder = index.path / index._current_generation()  # noqa: SLF001
    hostile = {
        "stemmers": analysis.stemmer_fingerprint(),
        "stems": {
            "fr": ["usine\tjournaux\tabri", "usin\tjournal\tabri"],  # not sorted
            "en": ["a\tb", "only one"],  # lengths differ: ignored
            "xx": ["a", "b"],  # no such stemmer
            "es": [1, 2],  # not text
        },
    }
    (folder / known_stems.FILE_NAME).write_text(json.dumps(hostile), encoding="utf-8")
    known_stems.load(folder)
    for word in ("usine", "journaux", "abri", "travaillaient"):
        assert analysis.stem("fr", word) == analysis._STEMMERS["fr"](word)  # noqa: SLF001
    assert analysis.stem("en", "a") == analysis._STEMMERS["en"]("a")  # noqa: SLF001
