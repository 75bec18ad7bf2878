"""Index lifecycle: idempotent updates, one writer, rebuilds while serving, several processes."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import pytest

from tests.search.conftest import ids, story
from webapp.search import IndexBusy, SearchIndex, SearchRequest
from webapp.search import engine as engine_module


def test_upsert_twice_keeps_one_copy(index: SearchIndex) -> None:
    index.upsert(story(1, "Première version", "usine"))
    index.upsert(story(1, "Seconde version", "usine"))
    index.upsert(story(1, "Seconde version", "usine"))
    page = index.search(SearchRequest(q="usine"))
    assert page.total == 1
    assert page.hits[0].title == "Seconde version"
    assert ids(index, "première") == []


def test_upsert_many_with_a_repeated_id_keeps_the_last(index: SearchIndex) -> None:
    assert index.upsert_many([story(1, "a", "un"), story(1, "b", "deux")]) == 1
    assert ids(index, "deux") == [1]
    assert ids(index, "un") == []


def test_remove_is_idempotent(index: SearchIndex) -> None:
    index.upsert_many([story(1, "a", "usine"), story(2, "b", "usine")])
    index.remove(1)
    index.remove(1)
    index.remove(999)
    assert ids(index, "usine") == [2]
    assert index.count(public=False) == 1


def test_a_second_writer_waits_a_bounded_time_then_gets_index_busy(index_path: Path) -> None:
    holder = SearchIndex(index_path)
    impatient = SearchIndex(index_path, writer_timeout=0.3)
    # The holder keeps the lock as a long job would; the impatient writer gives up after its
    # bounded wait (it returns while the lock is still held) with IndexBusy.
    with holder._writer(), pytest.raises(IndexBusy):  # noqa: SLF001
        impatient.upsert(story(1, "a", "b"))
    impatient.upsert(story(1, "a", "b"))
    assert holder.count() == 1


def test_schema_version_mismatch_asks_for_a_rebuild(index_path: Path, monkeypatch) -> None:
    SearchIndex(index_path).upsert(story(1, "a", "usine"))
    monkeypatch.setattr(engine_module, "SCHEMA_VERSION", engine_module.SCHEMA_VERSION + 1)
    upgraded = SearchIndex(index_path)
    assert upgraded.needs_rebuild()
    upgraded.rebuild([story(1, "a", "usine")])
    assert not upgraded.needs_rebuild()
    assert ids(upgraded, "usine") == [1]


def test_rebuild_swaps_in_a_fresh_index_while_searches_keep_answering(index: SearchIndex) -> None:
    index.upsert_many(story(i, f"Ancienne {i}", "usine ancienne") for i in range(1, 51))
    errors: list[BaseException] = []
    totals: list[int] = []
    stop = threading.Event()

    def keep_searching() -> None:
        reader = SearchIndex(index.path)
        while not stop.is_set():
            try:
                page = reader.search(SearchRequest(q="usine"))
                assert page.error is None, page.error
                totals.append(page.total)
            except BaseException as exc:  # noqa: BLE001 - collected and re-raised below
                errors.append(exc)
                return

    thread = threading.Thread(target=keep_searching)
    thread.start()
    try:
        time.sleep(0.1)
        new_docs = (story(i, f"Nouvelle {i}", "usine nouvelle") for i in range(1, 301))
        assert index.rebuild(new_docs) == 300
        time.sleep(0.2)
    finally:
        stop.set()
        thread.join()
    assert not errors, errors
    assert totals and all(t > 0 for t in totals)  # never an empty answer during the swap
    assert totals[-1] == 300
    assert index.count() == 300
    assert ids(index, "ancienne") == []
    generations = [p for p in index.path.glob("gen-*") if p.is_dir()]
    assert len(generations) <= 2


def test_updates_made_during_a_rebuild_are_not_lost(index: SearchIndex) -> None:
    index.upsert_many([story(1, "un", "usine"), story(2, "deux", "usine")])
    writer = SearchIndex(index.path)

    def docs():
        yield story(1, "un", "usine")
        # Meanwhile a worker publishes story 3 and withdraws story 2 in the served index.
        writer.upsert(story(3, "trois", "usine"))
        writer.upsert(story(2, "deux", "usine", status="withdrawn"))
        yield story(2, "deux", "usine")

    index.rebuild(docs())
    assert sorted(ids(index, "usine")) == [1, 3]


def _child_upsert_then_wait(path: str, queue) -> None:  # runs in another process
    ix = SearchIndex(Path(path))
    ix.upsert(story(2, "Depuis l'autre processus", "bateau"))
    queue.put("written")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if ix.search(SearchRequest(q="train")).total == 1:
            queue.put("seen")
            return
        time.sleep(0.02)
    queue.put("timeout")


@pytest.mark.slow
def test_two_processes_see_each_others_commits(index: SearchIndex) -> None:
    index.upsert(story(1, "Ici", "avion"))
    assert ids(index, "avion") == [1]  # a long-lived searcher is now open
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_upsert_then_wait, args=(str(index.path), queue))
    child.start()
    try:
        assert queue.get(timeout=60) == "written"
        assert ids(index, "bateau") == [2]
        index.upsert(story(3, "Retour", "train"))
        assert queue.get(timeout=30) == "seen"
    finally:
        child.join(timeout=30)
    assert child.exitcode == 0


def test_compaction_merges_small_segments_without_losing_words_or_phrases(
    index: SearchIndex,
) -> None:
    for i in range(1, 13):
        index.upsert(story(i, f"Histoire {i}", f"le bateau numéro {i} quitte le port"))
    index.remove(3)
    assert index.segment_count() == 12  # updates never merge on their own path
    assert index.compact() == 12
    assert index.segment_count() == 1
    assert index.search(SearchRequest(q='"quitte le port"')).total == 11
    assert ids(index, '"bateau numéro 7"') == [7]
    assert ids(index, "histoire 3") == []
    assert ids(index, "histoire 4") == [4]  # positive control: the same probe finds a live one


def test_a_new_empty_index_answers_with_no_hits(index: SearchIndex) -> None:
    page = index.search(SearchRequest(q="usine"))
    assert (page.total, page.hits) == (0, [])
    index.upsert(story(1, "a", "usine"))  # positive control: the same index, once it holds one
    assert ids(index, "usine") == [1]


def test_a_new_archive_search_page_says_nothing_found_not_unavailable(client) -> None:
    response = client.get("/api/v1/search?q=usine")
    assert response.status_code == 200, response.json
    assert response.json["total"] == 0
    page = client.get("/search?q=usine")
    assert page.status_code == 200
    assert b"unavailable" not in page.data and b"indisponible" not in page.data
