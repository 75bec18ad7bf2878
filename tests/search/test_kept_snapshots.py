"""The assembled snapshot kept for the next process: read back only for exactly the segments it
was made from, equal to what assembling gives, never showing a story the index no longer shows,
and gone with an erasure."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from tests.search.conftest import story
from webapp.search import SearchIndex, SearchRequest, engine

ERASED_PLACE = "Zeugmaville"


def _archive(index: SearchIndex) -> None:
    index.upsert_many(
        [
            story(n, f"Usine {n}", "Une usine de Vitry.", places=["Vitry-sur-Seine"], themes=["t"])
            for n in range(1, 20)
        ]
    )
    index.upsert_many(
        [
            story(20, "Usine", "L'usine de Créteil.", places=["Créteil"], themes=["travail"]),
            story(21, "Usine", "Usine cachée.", places=["Orly"], status="submitted"),
            story(22, "Usines", "Les usines.", places=[ERASED_PLACE], themes=["secret"]),
        ]
    )


def _kept_files(index_path: Path) -> list[Path]:
    return sorted(index_path.rglob("snapshot-*.pickle"))


def _page(index: SearchIndex, q: str = "usine", public: bool = True) -> tuple:
    page = index.search(SearchRequest(q=q, per_page=50, public=public))
    facets = {name: [(v.value, v.count) for v in values] for name, values in page.facets.items()}
    return page.total, [(h.id, h.snippet_html) for h in page.hits], facets


@pytest.fixture
def no_assembly(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the times a process assembles a snapshot from its segments."""
    calls: list[int] = []
    real = SearchIndex._segment_data  # noqa: SLF001

    def counting(self: SearchIndex, *args: object):  # noqa: ANN202
        calls.append(1)
        return real(self, *args)

    monkeypatch.setattr(SearchIndex, "_segment_data", counting)
    return calls


def test_a_new_process_reads_the_kept_snapshot_and_answers_the_same(
    index: SearchIndex, index_path: Path, no_assembly: list[int]
) -> None:
    _archive(index)
    index.warm_up()
    assert len(_kept_files(index_path)) == 1
    expected, staff = _page(index), _page(index, public=False)
    no_assembly.clear()
    fresh = SearchIndex(index_path)
    try:
        fresh.warm_up()
        assert _page(fresh) == expected
        assert _page(fresh, public=False) == staff
        assert fresh.count() == 21  # the submitted story stays invisible to the public
        assert no_assembly == []
        fresh.upsert(story(30, "Usine neuve", "usine", places=["Ivry-sur-Seine"]))
        total, _hits, facets = _page(fresh)
        assert total == 22 and ("Ivry-sur-Seine", 1) in facets["place"]
    finally:
        fresh.close()


@pytest.mark.parametrize("change", ["withdrawn", "deleted", "published"])
def test_a_kept_snapshot_is_never_used_once_the_index_changed(
    index: SearchIndex, index_path: Path, no_assembly: list[int], change: str
) -> None:
    _archive(index)
    index.warm_up()
    if change == "withdrawn":
        index.upsert(story(20, "Usine", "L'usine de Créteil.", status="withdrawn"))
    elif change == "deleted":
        index.remove(20)
    else:
        index.upsert(story(21, "Usine", "Usine cachée.", places=["Orly"]))
    (old,) = _kept_files(index_path)
    with index._use_reader():  # noqa: SLF001
        toc = index._fresh_searcher().reader().generation()  # noqa: SLF001
    # The old snapshot under the new table of contents' name (a copy, a clock, a bug): the
    # segments it names are not the served ones, so it must not be believed.
    (old.parent / f"snapshot-{toc}.pickle").write_bytes(old.read_bytes())
    no_assembly.clear()
    fresh = SearchIndex(index_path)
    try:
        fresh.warm_up()
        total, hits, facets = _page(fresh)
        ids = {hit_id for hit_id, _ in hits}
        if change == "published":
            assert 21 in ids and total == 22
        else:
            assert 20 not in ids and total == 20
            assert ("Créteil", 1) not in facets["place"]
        assert no_assembly  # assembled from the segments, not read back
    finally:
        fresh.close()


def test_an_erasure_deletes_every_kept_snapshot(index: SearchIndex, index_path: Path) -> None:
    _archive(index)
    index.warm_up()
    folder = _kept_files(index_path)[0].parent
    (folder / ".snapshot-killedwriter").write_bytes(ERASED_PLACE.encode())
    assert any(ERASED_PLACE.encode() in f.read_bytes() for f in _kept_files(index_path))
    index.purge(22)
    assert _kept_files(index_path) == []
    assert not any(
        ERASED_PLACE.encode() in f.read_bytes() for f in index_path.rglob("*") if f.is_file()
    )


@pytest.mark.parametrize("damage", ["truncated", "other key", "code out of range", "not ours"])
def test_a_damaged_or_foreign_kept_snapshot_is_ignored(
    index: SearchIndex, index_path: Path, damage: str
) -> None:
    _archive(index)
    index.warm_up()
    expected = _page(index)
    (path,) = _kept_files(index_path)
    kept = pickle.loads(path.read_bytes())
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:1000])
    elif damage == "other key":
        kept.key = kept.key[:1]
        path.write_bytes(pickle.dumps(kept))
    elif damage == "code out of range":
        name = next(iter(kept.codes))
        kept.codes[name][0] = len(kept.combos) + 3
        path.write_bytes(pickle.dumps(kept))
    else:
        path.write_bytes(pickle.dumps({"key": kept.key}))
    fresh = SearchIndex(index_path)
    try:
        fresh.warm_up()
        assert _page(fresh) == expected
    finally:
        fresh.close()


def test_a_snapshot_kept_while_the_index_changed_is_deleted(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    _archive(index)
    answers = iter([True, False])  # unchanged before writing, changed once written
    monkeypatch.setattr(engine.SearchIndex, "_unchanged", lambda *_a: next(answers, False))
    index.warm_up()
    assert _kept_files(index.path) == []
    assert not list(index.path.rglob(".snapshot-*"))


def test_only_the_newest_kept_snapshot_stays(index: SearchIndex, index_path: Path) -> None:
    _archive(index)
    index.warm_up()
    first = _kept_files(index_path)
    index.upsert(story(40, "Autre", "usine"))
    fresh = SearchIndex(index_path)
    try:
        fresh.warm_up()
    finally:
        fresh.close()
    second = _kept_files(index_path)
    assert len(second) == 1 and second != first


def test_after_a_rebuild_the_next_process_neither_decodes_nor_assembles(
    index: SearchIndex, index_path: Path, no_assembly: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reindex prepares what readers need before it swaps the new generation in (decoded
    files) and warms up after (kept snapshot): the first web process to start after it does
    neither the decoding nor the assembly for its first visitor."""
    from webapp.search.facets import ColumnData

    docs = [story(n, f"Usine {n}", "Une usine.", places=[f"Ville {n % 7}"]) for n in range(1, 60)]
    index.rebuild(docs)
    expected = _page(index)

    def no_decoding(*_a: object) -> None:
        raise AssertionError("a process decoded a segment after the rebuild had prepared it")

    monkeypatch.setattr(ColumnData, "decode", no_decoding)
    no_assembly.clear()
    fresh = SearchIndex(index_path)
    try:
        fresh.warm_up()
        assert _page(fresh) == expected
        assert no_assembly == []
    finally:
        fresh.close()


def test_a_process_serving_the_old_generation_reads_the_new_ones_decoded_files(
    index: SearchIndex, index_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The decoded files are written before the swap: a web process already running decodes
    nothing when its next search finds the new generation (at 100,000 stories, 2.5 s)."""
    from webapp.search.facets import ColumnData

    _archive(index)
    running = SearchIndex(index_path)
    try:
        assert _page(running)[0] == 21
        monkeypatch.setattr(SearchIndex, "warm_up", lambda self: None)  # only the swap counts
        docs = [story(n, f"Usine {n}", "Une usine.", places=["Orly"]) for n in range(1, 40)]
        index.rebuild(docs)

        def no_decoding(*_a: object) -> None:
            raise AssertionError("a running process decoded the rebuilt generation")

        monkeypatch.setattr(ColumnData, "decode", no_decoding)
        total, _hits, facets = _page(running)
        assert total == 39 and facets["place"] == [("Orly", 39)]
    finally:
        running.close()
