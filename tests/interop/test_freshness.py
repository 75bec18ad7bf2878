"""Issue 17: no shared cache may keep a page that shows a story for more than a few seconds.

A reverse proxy in front of the app obeys ``Cache-Control``: every public answer that shows or
lists stories says ``public, max-age=5, must-revalidate`` (``webapp.freshness``) and carries an
ETag, so asking again after five seconds costs a 304.
"""

from __future__ import annotations

import pytest

FRESHNESS = "public, max-age=5, must-revalidate"


@pytest.fixture
def addresses(app, archive) -> list[str]:
    """One address of every kind of public answer that shows or lists a story."""
    from webapp.extensions import db
    from webapp.models import MediaAsset

    organisation = archive.organisation("Mémoires du 94")
    story_id = archive.story(images=1, organisation_id=organisation, places=["Ivry-sur-Seine"])
    archive.collection("Marchés", [story_id])
    archive.index(story_id)
    with app.app_context():
        media_id = db.session.scalar(
            db.select(MediaAsset.id).where(MediaAsset.story_id == story_id)
        )
    return [
        "/",
        f"/stories/{story_id}",
        "/collections/",
        "/collections/marches",
        "/places/",
        "/places/ivry-sur-seine",
        f"/organisations/{organisation}",
        "/search?q=",
        "/sitemap.xml",
        "/sitemaps/pages.xml",
        "/sitemaps/stories-1.xml",
        "/feeds/stories.atom",
        "/feeds/collections/marches.atom",
        f"/iiif/stories/{story_id}/manifest.json",
        "/iiif/collections.json",
        f"/iiif/3/{media_id}/info.json",
        f"/iiif/3/{media_id}/full/256,/0/default.jpg",
        "/api/v1/stories",
        "/api/v1/collections",
        "/api/v1/places",
        "/api/v1/organisations",
        f"/media/{media_id}/thumb",
    ]


def test_every_public_answer_showing_a_story_is_kept_seconds_then_revalidated(client, addresses):
    for address in addresses:
        first = client.get(address, follow_redirects=True)
        assert first.status_code == 200, address
        assert first.headers["Cache-Control"] == FRESHNESS, address
        etag = first.headers["ETag"]
        again = client.get(address, headers={"If-None-Match": etag}, follow_redirects=True)
        assert again.status_code == 304, address
        assert again.data == b"", address


def test_oai_answers_are_never_kept(client, addresses):
    response = client.get("/oai?verb=ListRecords&metadataPrefix=oai_dc")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_a_withdrawn_story_is_gone_from_the_next_revalidation(client, archive):
    story_id = archive.story(title="Le marché d'Ivry")
    first = client.get(f"/stories/{story_id}", follow_redirects=True)
    assert first.headers["Cache-Control"] == FRESHNESS
    archive.act("withdraw", story_id)
    again = client.get(
        f"/stories/{story_id}",
        headers={"If-None-Match": first.headers["ETag"]},
        follow_redirects=True,
    )
    assert again.status_code == 410
    assert "public" not in again.headers.get("Cache-Control", "")
