"""The index's table of contents never names a Passages class by its module path (issue 11.5).

Whoosh pickles the schema and each segment's codec into ``_MAIN_<n>.toc``; our classes pickle
by a stable name (``webapp.search.stored_names``), so moving or renaming one does not make
existing indexes unopenable, and a name this version does not know leads to a rebuild.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.search.conftest import ids, story
from webapp.search import IndexRebuilding, SearchIndex, SearchRequest, stored_names
from webapp.search import schema as schema_module
from webapp.search.schema import TokenField


class RenamedTokenField(TokenField):
    """TokenField as it would be after a move to another module and a new name."""


def _tocs(index: SearchIndex) -> list[Path]:
    return list((index.path / index._current_generation()).glob("*.toc"))  # noqa: SLF001


def test_the_table_of_contents_names_no_passages_class_path(index: SearchIndex) -> None:
    index.upsert(story(1, "Le marché", "usine"))
    index.compact()
    tocs = _tocs(index)
    assert tocs
    for toc in tocs:
        data = toc.read_bytes()
        assert b"webapp.search.stored_names" in data  # positive control: our classes are there
        for module in (b"webapp.search.schema", b"webapp.search.segments", b"TokenField"):
            assert module not in data


def test_an_index_opens_after_its_classes_are_moved_and_renamed(
    index_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    SearchIndex(index_path).upsert_many([story(1, "Le marché", "usine"), story(2, "Gare", "gare")])
    monkeypatch.delattr(schema_module, "TokenField")
    monkeypatch.setitem(
        stored_names.STORED_NAMES,
        "passages.token-field",
        f"{__name__}:RenamedTokenField",
    )
    moved = SearchIndex(index_path)
    assert moved.unreadable_reason() is None
    assert ids(moved, "usine") == [1]
    moved.close()


def test_an_unknown_stored_name_makes_the_index_rebuild(index_path: Path) -> None:
    docs = [story(1, "Le marché", "usine"), story(2, "Gare", "gare")]
    SearchIndex(index_path).upsert_many(docs)
    fresh = SearchIndex(index_path)
    for toc in _tocs(fresh):  # as written by a newer version: same length, other name
        toc.write_bytes(toc.read_bytes().replace(b"passages.token-field", b"passages.token-fielx"))
    assert "does not open" in (fresh.unreadable_reason() or "")
    with pytest.raises(IndexRebuilding):
        fresh.search(SearchRequest(q="usine"))
    fresh.rebuild(docs)
    assert fresh.unreadable_reason() is None
    assert ids(fresh, "usine") == [1]
    fresh.close()
