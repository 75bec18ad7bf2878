"""A segment's decoded columns, kept in a file beside it: a new process reads them instead of
decoding every document again, sees exactly what decoding would give, and an erased story's
values go with the segment that held them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.search.conftest import story
from webapp.search import SearchIndex, SearchRequest
from webapp.search.facets import ColumnData


def _decoded_files(index_path: Path) -> list[Path]:
    return sorted(index_path.rglob("*.decoded*"))


def _facets(page) -> dict[str, list[tuple[str, int]]]:
    return {name: [(v.value, v.count) for v in values] for name, values in page.facets.items()}


def _archive(index: SearchIndex) -> None:
    index.upsert_many(
        [
            story(1, "L'usine de Vitry", "Mon père à l'usine.", places=["Vitry-sur-Seine"]),
            story(2, "Usine", "Une usine à Créteil.", places=["Créteil"], themes=["travail"]),
            story(3, "Le marché", "Le marché d'Orly.", places=["Orly"], status="submitted"),
        ]
    )
    index.upsert(story(4, "Usines", "Les usines de Zeugmaville.", places=["Zeugmaville"]))


def test_a_new_process_reads_the_decoded_columns_and_answers_the_same(
    index: SearchIndex, index_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _archive(index)
    first = index.search(SearchRequest(q="usine"))
    assert first.total == 3
    assert len(_decoded_files(index_path)) == index.segment_count()

    def no_decoding(*args: object) -> ColumnData:
        raise AssertionError("a new process decoded a segment that has a decoded file")

    monkeypatch.setattr(ColumnData, "from_column", no_decoding)
    fresh = SearchIndex(index_path)  # another web process
    try:
        again = fresh.search(SearchRequest(q="usine"))
        assert [h.id for h in again.hits] == [h.id for h in first.hits]
        assert _facets(again) == _facets(first)
        assert fresh.count() == 3  # the submitted story stays invisible to the public
    finally:
        fresh.close()


def test_a_damaged_or_mismatched_decoded_file_is_ignored_and_written_again(
    index: SearchIndex, index_path: Path
) -> None:
    _archive(index)
    expected = _facets(index.search(SearchRequest(q="usine")))
    files = _decoded_files(index_path)
    assert len(files) == 2
    big, small = sorted(files, key=lambda f: f.stat().st_size, reverse=True)
    small.write_bytes(big.read_bytes())  # another segment's columns (three documents, not one)
    big.write_bytes(b"\x80\x05 not a pickle")  # a power cut, a bad disk
    fresh = SearchIndex(index_path)
    try:
        page = fresh.search(SearchRequest(q="usine"))
        assert page.total == 3
        assert _facets(page) == expected
    finally:
        fresh.close()
    rewritten = SearchIndex(index_path)  # the files were replaced by good ones
    try:
        assert _facets(rewritten.search(SearchRequest(q="usine"))) == expected
    finally:
        rewritten.close()
    assert b"not a pickle" not in big.read_bytes()


def test_an_erased_story_leaves_no_value_in_any_decoded_file(
    index: SearchIndex, index_path: Path
) -> None:
    _archive(index)
    index.search(SearchRequest(q="usine"))
    assert any(b"Zeugmaville" in f.read_bytes() for f in _decoded_files(index_path))
    index.purge(4)
    index.search(SearchRequest(q="usine"))  # the new segments' files are written
    assert _decoded_files(index_path)
    assert not any(b"Zeugmaville" in f.read_bytes() for f in index_path.rglob("*") if f.is_file())


def test_merged_segments_take_their_decoded_files_with_them(
    index: SearchIndex, index_path: Path
) -> None:
    for n in range(1, 6):
        index.upsert(story(n, f"Récit {n}", "Le bidonville de Nanterre.", places=["Nanterre"]))
    index.search(SearchRequest(q="bidonville"))
    assert len(_decoded_files(index_path)) == 5
    assert index.compact() == 5
    page = index.search(SearchRequest(q="bidonville"))
    assert page.total == 5
    assert len(_decoded_files(index_path)) == index.segment_count() == 1


def test_a_process_that_decoded_a_segment_retired_meanwhile_writes_no_file(
    index: SearchIndex, index_path: Path
) -> None:
    """A reader decoding an old segment while an erasure retires it must not leave the erased
    values behind in a file that no clean-up would ever match to a live segment."""
    from webapp.search import decoded_segments

    _archive(index)
    index.search(SearchRequest(q="usine"))
    (kept,) = [f for f in _decoded_files(index_path) if b"Zeugmaville" in f.read_bytes()]
    decoded = decoded_segments.load(kept.parent, kept.stem, 1)
    assert decoded is not None
    index.purge(4)  # retires that segment (and its file)
    assert not kept.exists()
    decoded_segments.save(kept.parent, kept.stem, decoded)  # the late reader's write
    assert not kept.exists()


def test_a_decoded_file_with_facet_indexes_out_of_range_is_ignored(
    index: SearchIndex, index_path: Path
) -> None:
    """A file whose per-document facet indexes point past its list of combinations (a bad
    disk, another version's file) would crash every search or show wrong values: ignored."""
    import pickle

    _archive(index)
    expected = _facets(index.search(SearchRequest(q="usine")))
    big = max(_decoded_files(index_path), key=lambda f: f.stat().st_size)
    decoded = pickle.loads(big.read_bytes())
    decoded.facets.codes["place"][0] = len(decoded.facets.combos["place"]) + 5
    big.write_bytes(pickle.dumps(decoded))
    fresh = SearchIndex(index_path)
    try:
        assert _facets(fresh.search(SearchRequest(q="usine"))) == expected
    finally:
        fresh.close()
