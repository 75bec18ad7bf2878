"""Fixtures for archive documents: an archivist's token and a way to publish a document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import story_metadata

SOURCE = {
    "institution": "Archives départementales du Val-de-Marne",
    "reference": "2 W 145",
    "fonds": "fonds de la préfecture",
    "producer": "Service des étrangers",
}


def document_metadata(**overrides: Any) -> dict[str, Any]:
    """An archive document as the API receives it (a letter of 1962, with its provenance)."""
    metadata = story_metadata(
        title="Lettre de demande de logement",
        body="Lettre manuscrite adressée au préfet, demandant un logement pour une famille.",
        period="~1962",
        themes=["housing"],
        kind="document",
        source=dict(SOURCE),
    )
    metadata.update(overrides)
    return metadata


@pytest.fixture
def archivist_token(make_user, api_token) -> str:
    return api_token(make_user("archivist"))


@pytest.fixture
def contributor_token(make_user, api_token) -> str:
    return api_token(make_user("contributor"))


@pytest.fixture
def published_document(submit_via_api, archivist_token, publish) -> Callable[..., int]:
    """Submit a document as an archivist and publish it; return its id."""

    def make(**overrides: Any) -> int:
        response = submit_via_api(archivist_token, document_metadata(**overrides))
        assert response.status_code == 202, response.json
        publish(response.json["id"])
        return response.json["id"]

    return make
