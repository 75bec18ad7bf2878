"""Fixtures for the search layer: a fresh index folder per test and a story factory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from webapp.search import SearchIndex, SearchRequest, StoryDocument

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
