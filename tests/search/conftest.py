"""Fixtures for the search layer: a fresh index folder per test and a story factory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from webapp.search import (
    SearchIndex,
    SearchRequest,
    StoryDocument,
    analysis,
    highlight,
    known_stems,
)

_BASE = StoryDocument(
    id=0,
    title="",
    body="",
    language="fr",
    places=[],
    period_start=None,
    period_end=None,
    themes=[],
    organisation=None,
    collections=[],
    status="published",
    updated_at=datetime(2024, 1, 1),
)


def story(id: int, title: str = "", body: str = "", **fields: object) -> StoryDocument:
    """A published French story unless told otherwise."""
    return replace(_BASE, id=id, title=title, body=body, **fields)


def ids(index: SearchIndex, q: str = "", **kwargs: object) -> list[int]:
    """Story ids of the first page for a public query."""
    page = index.search(SearchRequest(q=q, **kwargs))
    assert page.error is None or not q, page.error
    return [hit.id for hit in page.hits]


@pytest.fixture
def index_path(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def index(index_path: Path) -> Iterator[SearchIndex]:
    ix = SearchIndex(index_path, writer_timeout=5.0)
    yield ix
    ix.close()


# App-level search tests reuse the public pages' story factory and login (real app, real index).
from tests.public.conftest import login, make_story  # noqa: E402, F401

# ------------------------------------------------- what a process keeps in memory (kept stems)

#: A word that only the erased story of :func:`stems_archive` holds.
ERASED_WORD = "Zanzibarquoise"


@pytest.fixture
def new_process_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test starts as a new process would: no stems, no known words (restored after)."""
    monkeypatch.setattr(analysis, "_STEMS", {lang: {} for lang in analysis.STEMMED_LANGUAGES})
    monkeypatch.setattr(analysis, "_COMPUTED", [0])
    monkeypatch.setattr(highlight, "_VOCABULARIES", {})
    monkeypatch.setattr(highlight, "_FOLDED", {})
    analysis.stemmer_fingerprint()  # computed once per process, before anything is counted


def forget_process_memory() -> None:
    """What a process restart forgets (inside :func:`new_process_memory`)."""
    for cache in analysis._STEMS.values():  # noqa: SLF001
        cache.clear()
    analysis._COMPUTED[0] = 0  # noqa: SLF001
    highlight._VOCABULARIES.clear()  # noqa: SLF001
    highlight._FOLDED.clear()  # noqa: SLF001


def stems_archive(index: SearchIndex) -> None:
    """Twenty-nine published stories and one (99) holding :data:`ERASED_WORD`."""
    stories = [
        story(n, f"Récit {n}", f"Les ouvrières travaillaient à l'usine numéro {n} de Vitry.")
        for n in range(1, 30)
    ]
    stories.append(story(99, "Secret", f"{ERASED_WORD} racontait les marchés flottants."))
    index.upsert_many(stories)


def stems_file(index: SearchIndex) -> Path:
    return index.path / index._current_generation() / known_stems.FILE_NAME  # noqa: SLF001
