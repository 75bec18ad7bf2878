"""The IIIF cache on the S3 backend (a throw-away moto_server): written, served, purged."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import _dispose, build_app, in_action
from tests.iiif.conftest import archivist_of, create_story, decode, photo
from tests.service_processes import MotoServer


@pytest.mark.slow
def test_cached_images_live_in_the_bucket_and_leave_it_with_the_story(
    tmp_path: Path, moto_server: MotoServer
):
    from webapp.media.keys import iiif_cache_prefix
    from webapp.services import backends, review
    from workers.context import use_app
    from workers.maintenance import purge_iiif_cache

    app = build_app(
        tmp_path / "data",
        S3_ENDPOINT=moto_server.url,
        S3_ACCESS_KEY=moto_server.access_key,
        S3_SECRET_KEY=moto_server.secret_key,
        S3_BUCKET="iiif-cache",
        S3_REGION=moto_server.region,
    )
    try:
        story = create_story(app, photo(2400, 1600))
        media_id = story.media_ids[0]
        client = app.test_client()
        tile = f"/iiif/3/{media_id}/1024,512,512,512/512,/0/default.jpg"

        first = client.get(tile)
        assert first.headers["X-IIIF-Source"] == "original"
        with app.app_context():
            store = backends.object_store()
            assert type(store).__name__ == "S3ObjectStore"
            cached = [i.key for i in store.list(iiif_cache_prefix(story.story_id))]
            assert len(cached) == 20  # the tile's whole level: a 5 × 4 grid of 512 px
            mine = next(k for k in cached if k.endswith("/1024_512_512_512/max/0/default.jpg"))
            assert store.get(mine) == first.data
            assert store.stat(mine).content_type == "image/jpeg"

        second = client.get(tile)
        assert second.headers["X-IIIF-Source"] == "cache"
        assert second.data == first.data and decode(second.data).size == (512, 512)

        with app.app_context():
            in_action(review.withdraw, story.story_id, None, archivist_of(app))
        assert client.get(tile).status_code == 404
        use_app(app)
        assert purge_iiif_cache(story.story_id) == 20
        with app.app_context():
            assert list(backends.object_store().list(iiif_cache_prefix(story.story_id))) == []
    finally:
        _dispose(app)
