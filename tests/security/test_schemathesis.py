"""The API against its own OpenAPI document, with Hypothesis through schemathesis: for every
operation, with and without a bearer token, no 5xx and no response that contradicts the
document (status code, content type, body schema, headers). Bounded to a few examples per
operation so the whole run takes tens of seconds and stays in CI."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import create_user_now, issue_token_now

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
EXAMPLES = 12
#: Every operation twice over (17 s on the development machine): more than the "few seconds"
#: a quick-loop test may take (docs/architecture.md, Tests); CI runs it.
pytestmark = pytest.mark.slow


@pytest.fixture
def api_world(app, make_user, publish):
    """An archivist with a token and a published story, so authenticated calls reach real rows."""
    from tests.conftest import story_metadata, submit_story_now

    with app.app_context():
        create_user_now("fuzz-archivist@example.org", "archivist")
        token = issue_token_now("fuzz-archivist@example.org")
        story = submit_story_now(story_metadata(), [], submitter=None)
        story_id = story.id
    publish(story_id)
    from webapp.extensions import db
    from webapp.models import Story
    from webapp.services import backends
    from webapp.services.indexing import document_for

    with app.app_context():  # in the index, as the worker would put it: search answers 200
        backends.search_index().upsert(document_for(db.session.get(Story, story_id)))
    return {"token": token, "story_id": story_id}


def _served_document(app) -> dict:
    """The OpenAPI document as the app serves it, with the submission schema it points at
    (``story.schema.json``, served beside it) put in place of the relative reference."""
    client = app.test_client()
    document = client.get("/api/v1/openapi.json").json
    story_schema = client.get("/api/v1/story.schema.json").json
    story_schema = {k: v for k, v in story_schema.items() if k not in ("$schema", "$id")}

    def inline(node):
        if isinstance(node, dict):
            if node.get("$ref") == "story.schema.json":
                return story_schema
            ref = node.get("$ref", "")
            if ref.endswith(".schema.json") and not ref.startswith("#"):  # payload schemas
                served = client.get(f"/api/v1/{ref}").json
                return {k: v for k, v in served.items() if k not in ("$schema", "$id")}
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return inline(document)


def _run_every_operation(app, api_world, with_token: bool) -> int:
    """Drive every documented operation with Hypothesis; return how many cases were sent.

    (schemathesis' own pytest integration does not run under pytest 9, so the strategies are
    used directly; the checks are the same.)"""
    schema = schemathesis.openapi.from_dict(_served_document(app))
    schema.app = app
    sent = 0
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @HYPOTHESIS
        def run(case):
            nonlocal sent
            sent += 1
            _check(case, api_world, with_token)

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - name the operation, then fail
            raise AssertionError(f"{operation.method.upper()} {operation.path}: {exc}") from exc
    return sent


def _check(case, api_world, with_token: bool) -> None:
    headers = {"Authorization": f"Bearer {api_world['token']}"} if with_token else {}
    story_id = (case.path_parameters or {}).get("story_id")
    if with_token and isinstance(story_id, int) and story_id % 2 == 0:
        # Half the time aim at a real story, so the authenticated paths are exercised too.
        case.path_parameters["story_id"] = api_world["story_id"]
    case.call_and_validate(headers=headers, checks=CHECKS)


HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


def test_api_matches_its_openapi_document_without_a_token(app, api_world):
    assert _run_every_operation(app, api_world, with_token=False) > 50


def test_api_matches_its_openapi_document_with_a_token(app, api_world):
    assert _run_every_operation(app, api_world, with_token=True) > 50
