"""Erasing a story purges it from every index file, through the real erasure and worker path."""

from __future__ import annotations

import time

import pytest


def _index_bytes(app) -> bytes:
    from webapp.services import backends

    with app.app_context():
        folder = backends.settings().index_dir
    return b"".join(f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file())


@pytest.mark.slow
def test_an_erased_story_leaves_no_term_in_the_index(
    app, client, make_story, login, run_worker_burst
) -> None:
    kept = make_story("Le marché de Vitry")
    erased = make_story("Souvenir", body="Le quartier Zeugmatorix de mon enfance.")
    assert [r["id"] for r in client.get("/api/v1/search?q=zeugmatorix").json["results"]] == [erased]
    assert b"zeugmatorix" in _index_bytes(app)  # positive controls of the probes below
    assert client.get("/api/v1/search?q=zeugmatorax").json["suggestion"] == "zeugmatorix"
    assert client.get("/api/v1/search?q=zeugma*").json["total"] == 1

    login("archivist")
    response = client.post(f"/moderation/stories/{erased}/erase", data={"confirm": "ERASE"})
    assert response.status_code == 303
    started = time.monotonic()
    run_worker_burst(app, "--queues", "search,default")
    elapsed = time.monotonic() - started

    assert b"zeugmatorix" not in _index_bytes(app)
    assert b"Zeugmatorix" not in _index_bytes(app)
    assert client.get("/api/v1/search?q=zeugmatorix").json["total"] == 0
    assert client.get("/api/v1/search?q=zeugmatorax").json["suggestion"] is None
    assert client.get("/api/v1/search?q=zeugma*").json["total"] == 0
    assert [r["id"] for r in client.get("/api/v1/search?q=marché").json["results"]] == [kept]
    print(f"erasure → purged index: {elapsed:.1f} s including the worker's start")
