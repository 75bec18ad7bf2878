"""The public pages' queries and the gazetteer migration on PostgreSQL, not only SQLite."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import _dispose, build_app


@pytest.mark.postgres
def test_public_pages_and_indicators_on_postgresql(tmp_path, postgres_url):
    app = build_app(tmp_path / "data", DATABASE_URL=postgres_url)
    try:
        from webapp.extensions import db
        from webapp.models import Collection, CollectionItem, Organisation, Place, Story
        from webapp.services import indicators

        with app.app_context():
            assert db.session.scalar(db.select(db.func.count(Place.id))) == 87
            org = Organisation(name="Collège Romain Rolland", kind="school")
            stories = [
                Story(title="Au marché", body="épices", language="fr", licence="CC-BY-4.0",
                      places=["Ivry sur Seine"], period="1962", period_start=1962,
                      period_end=1962, status="published", published_at=datetime.now(UTC),
                      organisation=org),
                Story(title="En attente", body="x", language="ar", licence="CC-BY-4.0",
                      places=["Ivry-sur-Seine"], status="submitted", organisation=org),
            ]  # fmt: skip
            collection = Collection(title="Ivry", slug="ivry", published=True, featured=True)
            collection.items = [CollectionItem(story=s, position=n) for n, s in enumerate(stories)]
            db.session.add_all([*stories, collection])
            db.session.commit()
            figures = indicators.compute()
            assert figures.total == 2 and dict(figures.by_status) == {"published": 1,
                                                                       "submitted": 1}  # fmt: skip
            org_id = org.id
        client = app.test_client()
        for url in ("/", "/collections/ivry", "/places/ivry-sur-seine",
                    f"/organisations/{org_id}-college-romain-rolland"):  # fmt: skip
            response = client.get(url)
            assert response.status_code == 200, url
            assert "Au marché" in response.text and "En attente" not in response.text, url
        client.get("/collections/ivry")
        with app.app_context():
            from webapp.services.collections import most_viewed

            assert [(c.slug, n) for c, n in most_viewed()] == [("ivry", 2)]
    finally:
        _dispose(app)
