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


# The public pages' story factory (written to the database and indexed) and login.
from tests.public.conftest import login, make_story, reindex  # noqa: E402, F401


@pytest.fixture
def make_document(make_story) -> Callable[..., int]:  # noqa: F811 - the imported fixture
    """A document written straight to the database and indexed (published by default)."""

    def make(title: str = "Lettre de demande de logement", **fields: Any) -> int:
        values = {
            "kind": "document",
            "period": "~1962",
            "source_institution": SOURCE["institution"],
            "source_reference": SOURCE["reference"],
            "source_fonds": SOURCE["fonds"],
            "source_producer": SOURCE["producer"],
        }
        values.update(fields)
        return make_story(title, **values)

    return make


@pytest.fixture
def respond(app) -> Callable[[int, list[int]], None]:
    """Record that a story responds to documents, through the service."""

    def link(story_id: int, document_ids: list[int]) -> None:
        from tests.conftest import in_action
        from webapp.services import documents

        with app.app_context():
            in_action(documents.link_responses, story_id, document_ids)

    return link
