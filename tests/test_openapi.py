"""The OpenAPI document describes exactly the API that exists, and its references resolve."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _api_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule.endswith(".schema.json"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def test_every_api_route_is_documented_and_nothing_else(app, client):
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.1")
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert documented == _api_routes(app)


def test_the_submission_schema_is_served_where_the_document_points(client):
    doc = client.get("/api/v1/openapi.json").json
    multipart = doc["paths"]["/stories"]["post"]["requestBody"]["content"]["multipart/form-data"]
    ref = multipart["schema"]["properties"]["metadata"]["$ref"]
    schema = client.get(f"/api/v1/{ref}").json
    assert schema["title"] == "Story submission metadata"
    assert "language" in schema["required"]


HTTP_METHODS = frozenset({"get", "post", "put", "patch", "delete"})


def _url_of(node) -> str | None:
    """A URL written in a test: a string, or an f-string with ``{}`` for its holes."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def _calls_in_tests() -> tuple[set[tuple[str, str]], set[str]]:
    """``(method, path)`` of every ``client.<method>("/api/v1/…")`` call in the test suite, and
    every other ``/api/v1/…`` address a test names (parametrized lists, then fetched)."""
    calls, named = set(), set()
    for path in sorted((REPO / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in HTTP_METHODS
                and node.args
                and (url := _url_of(node.args[0])) is not None
                and url.startswith("/api/v1/")
            ):
                calls.add((node.func.attr, url.removeprefix("/api/v1").split("?")[0]))
            elif (url := _url_of(node)) is not None and url.startswith("/api/v1/"):
                named.add(url.removeprefix("/api/v1").split("?")[0])
    return calls, named


def test_every_documented_operation_is_exercised_by_the_tests(client):
    """Read from the tests' syntax trees: each operation of the document is called somewhere
    (a GET may also be named in a list of addresses a test fetches). An operation nobody calls
    is one whose answers nobody has checked."""
    doc = client.get("/api/v1/openapi.json").json
    calls, named = _calls_in_tests()
    assert ("post", "/stories") in calls  # control: the scan sees the submission tests
    missing = []
    for path, operations in doc["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\{\w+\\}", "[^/]+", re.escape(path)) + "$")
        for method in operations:
            seen = {p for m, p in calls if m == method} | (named if method == "get" else set())
            if not any(pattern.match(p) for p in seen):
                missing.append(f"{method.upper()} {path}")
    assert missing == []
