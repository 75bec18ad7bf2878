"""The IIIF Image API over HTTP, on real derivatives and originals in local storage."""

from __future__ import annotations

import pytest

from tests.iiif.conftest import BLUE, GREEN, RED, WHITE, colour_at, decode, near, photo

LD_JSON = 'application/ld+json;profile="http://iiif.io/api/image/3/context.json"'


@pytest.fixture
def landscape(make_story):
    """A published 2400×1600 JPEG: the 1600 px derivatives hold two thirds of its detail."""
    return make_story(photo(2400, 1600)).media_ids[0]


def _get(client, media_id: int, path: str, **kwargs):
    return client.get(f"/iiif/3/{media_id}/{path}", **kwargs)


def test_info_json_describes_the_image_and_its_ready_made_sizes(client, landscape):
    response = _get(client, landscape, "info.json")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == LD_JSON
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert 'rel="profile"' in response.headers["Link"]
    info = response.get_json(force=True)
    assert info["@context"] == "http://iiif.io/api/image/3/context.json"
    assert info["id"] == f"http://passages.test/iiif/3/{landscape}"
    assert info["type"] == "ImageService3"
    assert info["protocol"] == "http://iiif.io/api/image"
    assert info["profile"] == "level2"
    assert (info["width"], info["height"]) == (2400, 1600)
    assert {(s["width"], s["height"]) for s in info["sizes"]} == {
        (256, 171),
        (800, 533),
        (1600, 1067),
    }
    assert info["tiles"][0]["scaleFactors"] == [1, 2, 4, 8]
    assert info["rights"] == "http://creativecommons.org/licenses/by/4.0/"
    for size in info["sizes"]:  # every listed size is served as stored, without decoding
        served = _get(client, landscape, f"full/{size['width']},{size['height']}/0/default.webp")
        assert served.headers["X-IIIF-Source"] == "derivative"
        assert decode(served.data).size == (size["width"], size["height"])


def test_info_json_as_plain_json_when_asked(client, landscape):
    response = _get(client, landscape, "info.json", headers={"Accept": "application/json"})
    assert response.headers["Content-Type"] == "application/json"
    assert response.get_json()["width"] == 2400


def test_base_uri_redirects_to_the_image_information(client, landscape):
    response = client.get(f"/iiif/3/{landscape}")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/iiif/3/{landscape}/info.json")


def test_regions_sizes_rotations_qualities_and_formats(client, landscape):
    """Each form of the grammar gives the picture a viewer expects (size and quadrant colours)."""
    cases = [
        # path, expected size, colour at (0.1, 0.1), colour at (0.9, 0.9)
        ("full/max/0/default.jpg", (2400, 1600), RED, WHITE),
        ("full/1200,/0/default.jpg", (1200, 800), RED, WHITE),
        ("full/,400/0/default.png", (600, 400), RED, WHITE),
        ("full/300,300/0/default.webp", (300, 300), RED, WHITE),
        ("full/!300,300/0/default.jpg", (300, 200), RED, WHITE),
        ("full/pct:10/0/default.jpg", (240, 160), RED, WHITE),
        ("square/200,/0/default.jpg", (200, 200), RED, WHITE),
        ("0,0,1200,800/max/0/default.jpg", (1200, 800), RED, RED),
        ("1200,0,1200,800/600,/0/default.jpg", (600, 400), GREEN, GREEN),
        ("pct:0,50,50,50/300,/0/default.jpg", (300, 200), BLUE, BLUE),
        ("pct:50,50,50,50/,100/0/color.jpg", (150, 100), WHITE, WHITE),
        ("2000,1400,1000,1000/max/0/default.jpg", (400, 200), WHITE, WHITE),
        ("full/600,/90/default.jpg", (400, 600), BLUE, GREEN),
        ("full/600,/180/default.jpg", (600, 400), WHITE, RED),
        ("full/600,/270/default.jpg", (400, 600), GREEN, BLUE),
        ("full/600,/!0/default.jpg", (600, 400), GREEN, BLUE),
        ("full/600,/!90/default.jpg", (400, 600), WHITE, RED),
        ("0,0,100,100/^200,/0/default.jpg", (200, 200), RED, RED),
    ]
    for path, size, top_left, bottom_right in cases:
        response = _get(client, landscape, path)
        assert response.status_code == 200, (path, response.data)
        picture = decode(response.data)
        assert picture.size == size, path
        assert near(colour_at(picture, 0.1, 0.1), top_left), (path, colour_at(picture, 0.1, 0.1))
        assert near(colour_at(picture, 0.9, 0.9), bottom_right), path
        assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_formats_and_gray_quality(client, landscape):
    for fmt, mime, pillow in (("jpg", "image/jpeg", "JPEG"), ("png", "image/png", "PNG"),
                              ("webp", "image/webp", "WEBP")):  # fmt: skip
        response = _get(client, landscape, f"full/240,/0/gray.{fmt}")
        assert response.status_code == 200
        assert response.mimetype == mime
        picture = decode(response.data)
        assert picture.format == pillow
        r, g, b = colour_at(picture.convert("RGB"), 0.1, 0.1)
        assert max(r, g, b) - min(r, g, b) <= 3  # grey: the red quadrant has lost its colour


def test_canonical_link_header_names_the_canonical_request(client, landscape):
    response = _get(client, landscape, "pct:0,0,50,50/pct:50/0/default.jpg")
    assert (
        f"<http://passages.test/iiif/3/{landscape}/0,0,1200,800/600,400/0/default.jpg>"
        ';rel="canonical"' in response.headers["Link"]
    )


MALFORMED = [
    ("nowhere/max/0/default.jpg", "region 'nowhere'"),
    ("0,0,0,10/max/0/default.jpg", "no width"),
    ("3000,0,10,10/max/0/default.jpg", "outside the image"),
    ("full/big/0/default.jpg", "size 'big'"),
    ("full/2401,/0/default.jpg", "larger than the region"),
    ("full/^5000,/0/default.jpg", "at most 4096×4096"),
    ("full/max/45/default.jpg", "only 0, 90, 180 and 270"),
    ("full/max/0/bitonal.jpg", "quality 'bitonal'"),
    ("full/max/0/default.tif", "format 'tif'"),
    ("full/max/0/default", "quality.format"),
]


def test_malformed_requests_get_a_400_that_says_what_is_wrong(client, landscape):
    for path, message in MALFORMED:
        response = _get(client, landscape, path)
        assert response.status_code == 400, path
        assert message in response.get_json()["error"]["message"], path
        assert response.headers["Access-Control-Allow-Origin"] == "*"


PATHS = ["info.json", "full/max/0/default.jpg", "full/256,/0/default.webp", "square/64,/0/gray.png"]


def test_unknown_image_is_404_on_every_path(client, landscape):
    for path in PATHS:
        response = _get(client, landscape + 1000, path)
        assert response.status_code == 404
        assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert client.get(f"/iiif/3/{landscape + 1000}").status_code == 404


def test_images_of_unpublished_stories_are_404_whatever_the_path(app, client, make_story):
    from webapp.extensions import db
    from webapp.models import Story

    draft = make_story(photo(800, 600), publish=False)
    media_id = draft.media_ids[0]
    with app.app_context():
        statuses = ["submitted", "in_review", "approved", "rejected", "withdrawn", "draft"]
        for status in statuses:
            db.session.get(Story, draft.story_id).status = status
            db.session.commit()
            for path in PATHS:
                response = _get(client, media_id, path)
                assert response.status_code == 404, (status, path)
                assert "no published image" in response.get_json()["error"]["message"]
            assert client.get(f"/iiif/3/{media_id}").status_code == 404


def test_a_deep_tile_is_cut_from_the_original_with_its_whole_level_and_cached(
    app, client, landscape
):
    """A full-resolution tile decodes the original once for its whole zoom level; the second
    request, and the neighbouring tiles a viewer asks for next, are the cached objects."""
    from webapp.media.keys import iiif_cache_prefix
    from webapp.services import backends

    path = "1024,512,512,512/512,512/0/default.jpg"
    first = _get(client, landscape, path)
    assert first.status_code == 200
    assert first.headers["X-IIIF-Source"] == "original"
    picture = decode(first.data)
    assert picture.size == (512, 512)
    assert near(colour_at(picture, 0.05, 0.05), RED) and near(colour_at(picture, 0.95, 0.9), WHITE)

    with app.app_context():
        store = backends.object_store()
        cached = {info.key for info in store.list(iiif_cache_prefix(_story_of(landscape)))}
        assert len(cached) == 5 * 4  # the 512 px grid of a 2400×1600 image at full resolution
        mine = next(k for k in cached if k.endswith("/1024_512_512_512/max/0/default.jpg"))
        assert store.get(mine) == first.data
        # Put other bytes under the cache key: the next answer must be exactly what is stored
        # there, proving it was read from the cache and nothing was decoded again.
        marker = photo(512, 512, seed=9)
        store.put(mine, marker, content_type="image/jpeg")

    second = _get(client, landscape, "1024,512,512,512/512,/0/default.jpg")  # same canonical
    assert second.headers["X-IIIF-Source"] == "cache"
    assert second.data == marker
    edge = _get(client, landscape, "2048,1536,352,64/352,64/0/default.jpg")  # a corner tile
    assert edge.headers["X-IIIF-Source"] == "cache"
    assert decode(edge.data).size == (352, 64)
    assert near(colour_at(decode(edge.data), 0.5, 0.5), WHITE)


def _cached_keys(app, media_id: int) -> list[str]:
    from webapp.media.keys import iiif_cache_prefix
    from webapp.services import backends

    with app.app_context():
        store = backends.object_store()
        return [i.key for i in store.list(iiif_cache_prefix(_story_of(media_id)))]


def test_a_request_off_the_tile_grid_is_made_on_demand_and_not_stored(app, client, landscape):
    """Only what viewers repeat is cached: a client varying sizes cannot grow the store."""
    first = _get(client, landscape, "100,100,700,500/700,/0/default.webp")
    assert first.status_code == 200
    assert first.headers["X-IIIF-Source"] == "original"
    assert first.headers["Cache-Control"] == "public, max-age=5, must-revalidate"
    assert decode(first.data).size == (700, 500)
    for width in range(2390, 2401):  # the probe's pattern: many distinct on-demand sizes
        assert _get(client, landscape, f"full/{width},/0/default.png").status_code == 200
    upscaled = _get(client, landscape, "full/^3000,/0/default.jpg")
    assert decode(upscaled.data).size == (3000, 2000)
    assert _cached_keys(app, landscape) == []
    again = _get(client, landscape, "100,100,700,500/max/0/default.webp")
    assert again.headers["X-IIIF-Source"] == "original"
    assert again.data == first.data


def test_a_listed_size_in_another_format_is_made_once_and_cached(app, client, landscape):
    first = _get(client, landscape, "full/800,533/0/gray.png")
    assert first.headers["X-IIIF-Source"] == "made"
    assert [k.rsplit("/", 4)[-4:] for k in _cached_keys(app, landscape)] == [
        ["full", "800_533", "0", "gray.png"]
    ]
    second = _get(client, landscape, "full/800,533/0/gray.png")
    assert second.headers["X-IIIF-Source"] == "cache"
    assert second.data == first.data


def test_confined_size_larger_than_the_image_gives_the_image_not_an_error(client, make_story):
    """Image API 3.0: ``!w,h`` is as large as possible but not larger than the region, w or h;
    only ``^!w,h`` may enlarge. ``w,``, ``,h``, ``w,h`` and ``pct:n`` larger than the region
    still need ``^``."""
    media_id = make_story(photo(1600, 1200)).media_ids[0]
    response = _get(client, media_id, "full/!5000,5000/0/default.jpg")
    assert response.status_code == 200
    assert decode(response.data).size == (1600, 1200)
    assert 'full/max/0/default.jpg>;rel="canonical"' in response.headers["Link"]
    enlarged = _get(client, media_id, "full/^!2000,2000/0/default.jpg")
    assert decode(enlarged.data).size == (2000, 1500)
    for size in ("1601,", ",1201", "1601,1200", "pct:101"):
        refused = _get(client, media_id, f"full/{size}/0/default.jpg")
        assert refused.status_code == 400, size
        assert "larger than the region" in refused.get_json()["error"]["message"]


def test_info_json_states_the_limits_an_upscaled_request_can_meet(client, landscape):
    info = _get(client, landscape, "info.json").get_json(force=True)
    assert "sizeUpscaling" in info["extraFeatures"]
    assert (info["maxWidth"], info["maxHeight"], info["maxArea"]) == (4096, 4096, 4096 * 4096)
    at_the_limit = _get(client, landscape, f"full/^{info['maxWidth']},/0/default.jpg")
    assert decode(at_the_limit.data).size == (4096, 2731)
    beyond = _get(client, landscape, f"full/^{info['maxWidth'] + 1},/0/default.jpg")
    assert beyond.status_code == 400


def test_requests_within_the_derivatives_never_touch_the_original(app, client, landscape):
    """The first screen of a viewer is made from the 1600 px derivative, even with the original
    gone from the store."""
    from webapp.extensions import db
    from webapp.models import MediaAsset
    from webapp.services import backends

    with app.app_context():
        backends.object_store().delete(db.session.get(MediaAsset, landscape).original_key)
    sources = []
    for path in ("full/600,400/0/default.jpg", "0,0,2048,1600/512,400/0/default.jpg",
                 "2048,0,352,1600/88,400/0/default.jpg", "full/150,100/90/gray.png"):  # fmt: skip
        response = _get(client, landscape, path)
        assert response.status_code == 200, path
        sources.append(response.headers["X-IIIF-Source"])
    # The second is a tile of the 1/4 zoom level: the level's other tile was cut with it.
    assert sources == ["made", "made", "cache", "made"]


def test_exact_derivative_sizes_are_the_stored_bytes(app, client, landscape):
    from webapp.extensions import db
    from webapp.models import MediaAsset
    from webapp.services import backends

    with app.app_context():
        media = db.session.get(MediaAsset, landscape)
        store = backends.object_store()
        thumb = store.get(media.derivatives["thumb"]["key"])
        download = store.get(media.derivatives["download"]["key"])
        square = store.get(media.derivatives["square"]["key"])
    assert _get(client, landscape, "full/256,/0/default.webp").data == thumb
    assert _get(client, landscape, "full/1600,1067/0/default.jpg").data == download
    assert _get(client, landscape, "square/256,/0/default.webp").data == square


def test_exif_orientation_of_the_original_is_applied_to_deep_tiles(client, make_story):
    """Tiles cut from a sideways-stored original line up with the upright derivatives."""
    media_id = make_story(photo(2400, 1600, orientation=6)).media_ids[0]
    info = _get(client, media_id, "info.json").get_json(force=True)
    assert (info["width"], info["height"]) == (2400, 1600)
    for path, expected in (("0,0,512,512/512,/0/default.jpg", RED),
                           ("1888,0,512,512/512,/0/default.jpg", GREEN),
                           ("0,1088,512,512/512,/0/default.jpg", BLUE)):  # fmt: skip
        response = _get(client, media_id, path)
        assert response.headers["X-IIIF-Source"] == "original"
        assert near(colour_at(decode(response.data), 0.5, 0.5), expected), path


def test_detail_beyond_the_decode_budget_is_refused_and_not_advertised(
    client, landscape, monkeypatch
):
    from webapp.iiif import rendering

    monkeypatch.setattr(rendering, "MAX_DECODED_PIXELS", 1_000_000)
    info = _get(client, landscape, "info.json").get_json(force=True)
    assert info["tiles"][0]["scaleFactors"][0] == 2  # JPEG scaled on load by 2 fits 1 MP
    response = _get(client, landscape, "0,0,512,512/512,/0/default.jpg")
    assert response.status_code == 413
    assert "cannot be made on demand" in response.get_json()["error"]["message"]
    assert _get(client, landscape, "0,0,1024,1024/512,/0/default.jpg").status_code == 200


def _story_of(media_id: int) -> int:
    from webapp.extensions import db
    from webapp.models import MediaAsset

    return db.session.get(MediaAsset, media_id).story_id


def test_answers_revalidate_with_their_etag(client, landscape):
    """Browsers and proxies keep tiles and info.json for seconds, then ask again cheaply."""
    for path in ("info.json", "full/256,/0/default.webp", "0,0,1024,1024/512,/0/default.jpg"):
        first = _get(client, landscape, path)
        assert first.headers["Cache-Control"] == "public, max-age=5, must-revalidate"
        again = _get(client, landscape, path, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304, path
        assert again.headers["Access-Control-Allow-Origin"] == "*"


def test_images_made_on_demand_are_rate_limited_per_address(tmp_path, redis_server):
    from tests.conftest import _dispose, build_app
    from tests.iiif.conftest import create_story

    app = build_app(tmp_path / "limited", RATE_LIMITS_ENABLED="true", REDIS_URL=redis_server.url,
                    RATE_LIMIT_IIIF_ON_DEMAND="3/minute")  # fmt: skip
    try:
        media_id = create_story(app, photo(2400, 1600)).media_ids[0]
        client = app.test_client()
        for _ in range(5):  # stored derivatives are not counted
            assert _get(client, media_id, "full/800,533/0/default.jpg").status_code == 200
        made = [_get(client, media_id, f"full/{w},/0/default.png") for w in (1001, 1002, 1003)]
        # Counted after the answer (only on-demand ones), so the limit refuses from its value on.
        assert [r.status_code for r in made] == [200, 200, 429]
        refused = _get(client, media_id, "full/1004,/0/default.png")
        assert refused.status_code == 429
        assert refused.get_json()["error"]["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) > 0
        assert refused.headers["Access-Control-Allow-Origin"] == "*"
        other = client.get(f"/iiif/3/{media_id}/full/1004,/0/default.png",
                           environ_base={"REMOTE_ADDR": "192.0.2.7"})  # fmt: skip
        assert other.status_code == 200
    finally:
        _dispose(app)


def test_a_detail_refused_on_demand_is_explained_in_french(client, landscape, monkeypatch):
    from webapp.iiif import rendering

    monkeypatch.setattr(rendering, "MAX_DECODED_PIXELS", 1_000_000)
    response = _get(
        client, landscape, "0,0,512,512/512,/0/default.jpg", headers={"Accept-Language": "fr"}
    )

    assert response.status_code == 413
    message = response.get_json()["error"]["message"]
    assert message.startswith("ce détail de l’image ne peut pas être produit à la demande (")
    assert message.endswith("; demandez une taille plus petite ou une zone plus grande")
    assert "pixels ; 1 mégapixels au plus sont décodés à la demande" in message  # the reason too
