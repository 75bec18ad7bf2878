"""OAI-PMH (datestamps, keyset paging, sets, tombstones) and the public read API, sitemap and
feeds on PostgreSQL, not only on SQLite."""

from __future__ import annotations

import pytest

from tests.conftest import _dispose, build_app
from tests.interop.conftest import Archive
from tests.interop.test_oai import OAI, error_code, harvest, identifier, ids_of, oai_get

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_harvest_pages_sets_and_deletions_on_postgresql(tmp_path, postgres_url):
    app = build_app(tmp_path / "data", DATABASE_URL=postgres_url, PASSAGES_OAI_PAGE_SIZE="2")
    try:
        archive = Archive(app)
        client = app.test_client()
        organisation = archive.organisation("Mémoires du 93")
        stories = [archive.story(title=f"H{n}", organisation_id=organisation) for n in range(5)]
        collection = archive.collection("Marchés", stories[:2])
        archive.act("withdraw", stories[2])
        archive.erase(stories[3])
        headers, dates = harvest(client, "verb=ListIdentifiers&metadataPrefix=oai_dc")
        assert sorted(ids_of(headers)) == sorted(identifier(s) for s in stories)
        deleted = {h.findtext(f"{OAI}identifier") for h in headers if h.get("status")}
        assert deleted == {identifier(stories[2]), identifier(stories[3])}
        members, _ = harvest(
            client, f"verb=ListIdentifiers&metadataPrefix=oai_dc&set=collection:{collection}"
        )
        assert set(ids_of(members)) == {identifier(s) for s in stories[:2]}
        archive.edit(stories[4], title="H4 revue")
        later, _ = harvest(client, f"verb=ListRecords&metadataPrefix=oai_dc&from={dates[0]}")
        assert identifier(stories[4]) in ids_of(later)
        sets = oai_get(client, "verb=ListSets").iter(f"{OAI}setSpec")
        assert {f"collection:{collection}", f"organisation:{organisation}"} <= {
            s.text for s in sets
        }
        root = oai_get(client, "verb=ListRecords&metadataPrefix=oai_dc&until=2000-01-01")
        assert error_code(root) == "noRecordsMatch"
        assert client.get(f"/stories/{stories[2]}").status_code == 410
        assert client.get(f"/stories/{stories[3]}").status_code == 410
        # The public read API, the sitemap and the feeds' queries, on PostgreSQL too.
        listing = client.get("/api/v1/stories?limit=1")
        assert listing.json["total"] == 3 and listing.json["next"]
        assert client.get("/api/v1/collections").json["results"][0]["story_count"] == 2
        (organisation_doc,) = client.get("/api/v1/organisations").json["results"]
        assert organisation_doc["story_count"] == 3 and organisation_doc["updated_at"]
        assert client.get("/api/v1/places").status_code == 200
        assert client.get("/sitemap.xml").status_code == 200
        assert b"H4 revue" in client.get("/feeds/stories.atom").data
    finally:
        _dispose(app)
