"""Choosing the source of a request, the tile grid, and cutting regions out of originals."""

from __future__ import annotations

import random

import pytest
from PIL import Image

from tests.iiif.conftest import BLUE, GREEN, RED, WHITE, colour_at, near, photo
from webapp.iiif import rendering
from webapp.iiif.image_api import Limits, parse_image_request
from webapp.media.imaging import ImageTooLarge, _orient, _stored_box, cut_region

LIMITS = Limits(4096, 4096, 4096 * 4096)
#: What the worker records for a 6000×4000 photo (DEFAULT_SPECS).
DERIVATIVES = rendering.stored_derivatives(
    {
        "large": {"key": "d/large.webp", "mime": "image/webp", "width": 1600, "height": 1067},
        "download": {"key": "d/download.jpg", "mime": "image/jpeg", "width": 1600, "height": 1067},
        "medium": {"key": "d/medium.webp", "mime": "image/webp", "width": 800, "height": 533},
        "thumb": {"key": "d/thumb.webp", "mime": "image/webp", "width": 256, "height": 171},
        "square": {"key": "d/square.webp", "mime": "image/webp", "width": 256, "height": 256},
        "broken": {"key": "d/broken.webp"},
    }
)


def _plan(region, size, rotation="0", quality_format="default.jpg"):
    request = parse_image_request(
        region, size, rotation, quality_format, width=6000, height=4000, limits=LIMITS
    )
    return rendering.plan(request, 6000, 4000, DERIVATIVES)


def test_an_exact_derivative_is_passed_through():
    chosen = _plan("full", "256,", quality_format="default.webp")
    assert chosen.passthrough and chosen.source.name == "thumb"
    chosen = _plan("full", "1600,", quality_format="default.jpg")
    assert chosen.passthrough and chosen.source.name == "download"
    chosen = _plan("square", "256,", quality_format="default.webp")
    assert chosen.passthrough and chosen.source.name == "square"


def test_the_smallest_derivative_detailed_enough_is_cut():
    assert _plan("full", "700,").source.name == "medium"
    assert _plan("full", "256,", quality_format="default.jpg").source.name == "thumb"
    assert not _plan("full", "256,", rotation="90", quality_format="default.webp").passthrough
    assert _plan("0,0,2048,2048", "512,").source.name == "download"  # prefers the jpg source
    assert _plan("0,0,2048,2048", "512,", quality_format="default.webp").source.name == "large"
    assert _plan("square", "200,").source.name == "square"


def test_detail_finer_than_every_derivative_needs_the_original():
    assert _plan("0,0,1024,1024", "512,").source is None
    assert _plan("full", "max").source is None


def test_broken_derivative_records_are_ignored():
    assert "broken" not in {d.name for d in DERIVATIVES}


@pytest.mark.parametrize(
    ("region", "size", "factor"),
    [
        ("0,0,512,512", "512,512", 1),
        ("5632,3584,368,416", "368,416", 1),
        ("2048,0,2048,2048", "512,512", 4),
        ("4096,2048,1904,1952", "476,488", 4),
        ("full", "375,250", 16),
        ("0,0,512,512", "256,256", None),  # not this grid's size
        ("100,0,512,512", "512,512", None),  # not aligned
        ("0,0,300,300", "300,300", None),  # not a whole tile
    ],
)
def test_tiles_of_the_info_json_grid_are_recognised(region, size, factor):
    request = parse_image_request(
        region, size, "0", "default.jpg", width=6000, height=4000, limits=LIMITS
    )
    assert rendering.grid_factor(request, 6000, 4000) == factor


def test_a_grid_level_has_every_tile_once():
    like = parse_image_request(
        "0,0,1024,1024", "512,", "0", "gray.webp", width=6000, height=4000, limits=LIMITS
    )
    tiles = rendering.grid_tiles(2, 6000, 4000, like)
    assert len(tiles) == 6 * 4
    assert sum(t.region.width * t.region.height for t in tiles) == 6000 * 4000
    assert all(rendering.grid_factor(t, 6000, 4000) == 2 for t in tiles)
    assert {(t.quality, t.format) for t in tiles} == {("gray", "webp")}


def test_stored_box_maps_every_orientation_back():
    """Cutting the mapped box then orienting equals orienting then cutting, for all 8 cases."""
    rng = random.Random(4)
    stored = Image.effect_noise((7, 5), 80).convert("RGB")
    for orientation in range(1, 9):
        shown = _orient(stored, orientation)
        for _ in range(30):
            x0, y0 = rng.randrange(shown.width), rng.randrange(shown.height)
            box = (x0, y0, rng.randrange(x0 + 1, shown.width + 1),
                   rng.randrange(y0 + 1, shown.height + 1))  # fmt: skip
            mapped = _stored_box(box, orientation, *stored.size)
            assert _orient(stored.crop(mapped), orientation).tobytes() == shown.crop(box).tobytes()


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_cut_region_of_an_original_is_upright(orientation):
    data = photo(1200, 800, orientation=orientation)
    for box, colour in (((0, 0, 600, 400), RED), ((600, 0, 1200, 400), GREEN),
                        ((0, 400, 600, 800), BLUE), ((600, 400, 1200, 800), WHITE)):  # fmt: skip
        picture = cut_region(data, box, (150, 100))
        assert picture.size == (150, 100) and picture.mode == "RGB"
        assert near(colour_at(picture, 0.3, 0.3), colour), (orientation, box)


def test_cut_region_refuses_a_decode_over_the_budget_before_decoding():
    data = photo(2000, 2000)
    with pytest.raises(ImageTooLarge, match="decoded on demand"):
        cut_region(data, (0, 0, 500, 500), (500, 500), max_decoded_pixels=1_000_000)
    # Scaled on load by 2 (1000×1000 decoded), the same budget is enough for half the detail.
    assert cut_region(data, (0, 0, 1000, 1000), (500, 500), max_decoded_pixels=1_000_000)


def test_png_original_is_cut_too():
    data = photo(800, 600, fmt="PNG")
    picture = cut_region(data, (400, 300, 800, 600), (100, 75))
    assert picture.size == (100, 75)
    assert near(colour_at(picture, 0.2, 0.2), WHITE)
