"""The OpenAPI document describes exactly the API that exists, and its references resolve."""

from __future__ import annotations

import re


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
