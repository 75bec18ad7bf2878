"""The Image API's request grammar, checked on the pure parsing functions (no app, no images)."""

from __future__ import annotations

import pytest

from webapp.iiif.image_api import (
    ImageRequestError,
    Limits,
    Region,
    info_document,
    parse_image_request,
    parse_quality_format,
    parse_region,
    parse_rotation,
    parse_size,
    scale_factors,
)

LIMITS = Limits(max_width=4096, max_height=4096, max_area=4096 * 4096)


def request(region="full", size="max", rotation="0", quality_format="default.jpg", w=6000, h=4000):
    return parse_image_request(
        region, size, rotation, quality_format, width=w, height=h, limits=LIMITS
    )


# --- regions --------------------------------------------------------------------------------------


def test_full_region_is_the_whole_image():
    assert parse_region("full", 6000, 4000) == Region(0, 0, 6000, 4000, full=True)


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [(6000, 4000, (1000, 0, 4000, 4000)), (3000, 5000, (0, 1000, 3000, 3000))],
)
def test_square_region_is_the_centred_largest_square(width, height, expected):
    region = parse_region("square", width, height)
    assert (region.x, region.y, region.width, region.height) == expected
    assert region.square and not region.full


def test_square_of_a_square_image_is_the_full_image():
    assert parse_region("square", 500, 500).full


def test_pixel_region_is_cut_to_the_image():
    assert parse_region("5000,3000,2000,2000", 6000, 4000) == Region(5000, 3000, 1000, 1000)


def test_pixel_region_covering_the_image_is_full():
    assert parse_region("0,0,6000,4000", 6000, 4000).full


def test_percent_region_is_resolved_to_pixels():
    region = parse_region("pct:10,25,50,50.5", 6000, 4000)
    assert (region.x, region.y, region.width, region.height) == (600, 1000, 3000, 2020)


@pytest.mark.parametrize(
    "text",
    ["6000,0,10,10", "0,4000,10,10", "pct:100,0,10,10", "pct:101,0,1,1"],
)
def test_region_starting_outside_the_image_is_refused(text):
    with pytest.raises(ImageRequestError, match="outside the image|at most 100"):
        parse_region(text, 6000, 4000)


@pytest.mark.parametrize("text", ["0,0,0,10", "0,0,10,0", "pct:0,0,0,10", "pct:1,1,0.001,10"])
def test_empty_region_is_refused(text):
    with pytest.raises(ImageRequestError, match="no width|smaller than one pixel"):
        parse_region(text, 6000, 4000)


@pytest.mark.parametrize(
    "text", ["", "all", "0,0,10", "-1,0,10,10", "0,0,10,10,", "1.5,0,10,10", "pct:a,0,1,1",
             "pct:1e2,0,1,1", "0, 0,10,10", "+1,0,10,10", "01,0,10,10"],
)  # fmt: skip
def test_malformed_region_is_refused_with_the_forms_named(text):
    with pytest.raises(ImageRequestError) as caught:
        parse_region(text, 6000, 4000)
    assert "full, square" in caught.value.message
    assert caught.value.status == 400


# --- sizes ----------------------------------------------------------------------------------------

REGION = Region(0, 0, 3000, 2000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("max", (3000, 2000)),
        ("1500,", (1500, 1000)),
        (",500", (750, 500)),
        ("300,300", (300, 300)),
        ("!300,300", (300, 200)),
        ("!3000,100", (150, 100)),
        ("pct:50", (1500, 1000)),
        ("pct:0.1", (3, 2)),
        ("^3100,", (3100, 2067)),
        ("^,2100", (3150, 2100)),
        ("^pct:120", (3600, 2400)),
        ("^!9000,3000", (4096, 2731)),
        ("^4000,2000", (4000, 2000)),
    ],
)
def test_size_forms(text, expected):
    assert parse_size(text, REGION, LIMITS) == expected


def test_max_is_bounded_by_the_limits_and_caret_max_fills_them():
    big = Region(0, 0, 6000, 4000)
    assert parse_size("max", big, LIMITS) == (4096, 2731)
    small = Region(0, 0, 1000, 500)
    assert parse_size("max", small, LIMITS) == (1000, 500)
    # info.json always states the limits, so ^max fills them (Image API 3.0, 4.4).
    assert parse_size("^max", small, LIMITS) == (4096, 2048)
    whole = parse_image_request("full", "^max", "0", "default.jpg", width=1000, height=500,
                                limits=LIMITS)  # fmt: skip
    assert (whole.width, whole.height) == (4096, 2048)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("!5000,5000", (3000, 2000)), ("!9000,2000", (3000, 2000)), ("!6000,1000", (1500, 1000)),
     ("^!5000,5000", (4096, 2731))],
)  # fmt: skip
def test_confined_size_stops_at_the_region_without_caret(text, expected):
    """``!w,h`` is "as large as possible but not larger than the extracted region, w or h":
    a box larger than the region gives the region's size, not an error; only ``^!w,h``
    enlarges."""
    assert parse_size(text, REGION, LIMITS) == expected


@pytest.mark.parametrize(
    "text", ["3001,", ",2001", "3001,10", "10,2001", "pct:100.5", "3001,2001", "pct:200"]
)
def test_larger_than_the_region_without_caret_is_refused(text):
    with pytest.raises(ImageRequestError, match="larger than the region.*\\^"):
        parse_size(text, REGION, LIMITS)


@pytest.mark.parametrize("text", ["^5000,", "^,4100", "^pct:300", "^4096,4096,"[:-1] + "1"])
def test_beyond_the_limits_is_refused(text):
    with pytest.raises(ImageRequestError, match="at most 4096×4096"):
        parse_size(text, REGION, LIMITS)


def test_area_limit_applies_to_exact_sizes():
    limits = Limits(max_width=4096, max_height=4096, max_area=1_000_000)
    with pytest.raises(ImageRequestError, match="1000000 pixels in all"):
        parse_size("2000,1000", REGION, limits)


@pytest.mark.parametrize("text", ["0,", ",0", "pct:0", "!0,10", "pct:0.001"])
def test_empty_size_is_refused(text):
    with pytest.raises(ImageRequestError, match="above 0|no width|smaller than one pixel"):
        parse_size(text, REGION, LIMITS)


@pytest.mark.parametrize("text", ["", "full", "w,h", "10", ",", "!10,", "^", "pct:", "-5,",
                                  "10,10,", "^^10,", "1.5,"])  # fmt: skip
def test_malformed_size_is_refused_with_the_forms_named(text):
    with pytest.raises(ImageRequestError, match="is not one of max"):
        parse_size(text, REGION, LIMITS)


# --- rotation, quality, format --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", (0, False)), ("90", (90, False)), ("180.0", (180, False)), ("!270", (270, True)),
     ("360", (0, False)), ("!0", (0, True))],
)  # fmt: skip
def test_rotations_by_right_angles_with_optional_mirroring(text, expected):
    assert parse_rotation(text) == expected


@pytest.mark.parametrize("text", ["45", "22.5", "361", "-90", "", "x", "!!90", "90!"])
def test_other_rotations_are_refused(text):
    with pytest.raises(ImageRequestError, match="rotation"):
        parse_rotation(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("default.jpg", ("default", "jpg")), ("color.png", ("color", "png")),
     ("gray.webp", ("gray", "webp"))],
)  # fmt: skip
def test_qualities_and_formats(text, expected):
    assert parse_quality_format(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [("bitonal.jpg", "quality 'bitonal' is not offered"), ("default.tif", "format 'tif'"),
     ("default.gif", "format 'gif'"), ("default", "quality.format"), ("default.JPG", "format"),
     ("native.jpg", "quality 'native'")],
)  # fmt: skip
def test_unknown_quality_or_format_is_refused_by_name(text, message):
    with pytest.raises(ImageRequestError, match=message):
        parse_quality_format(text)


# --- canonical form and info.json -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "canonical"),
    [
        (("full", "max", "0", "default.jpg", 1000, 800), "full/max/0/default.jpg"),
        (("full", "max", "0", "default.jpg"), "full/4096,2731/0/default.jpg"),
        (("square", "256,", "!90", "gray.webp"), "1000,0,4000,4000/256,256/!90/gray.webp"),
        (("pct:0,0,50,50", "pct:25", "0", "color.png"), "0,0,3000,2000/750,500/0/color.png"),
        (("0,0,512,512", "512,", "0", "default.jpg"), "0,0,512,512/max/0/default.jpg"),
        (("0,0,6000,4000", "!400,400", "0", "default.jpg"), "full/400,267/0/default.jpg"),
        (("0,0,100,100", "^200,", "0", "default.jpg"), "0,0,100,100/^200,200/0/default.jpg"),
    ],
)
def test_canonical_form(args, canonical):
    assert request(*args).canonical == canonical


def test_scale_factors_go_until_the_image_fits_one_tile():
    assert scale_factors(6000, 4000) == [1, 2, 4, 8, 16]
    assert scale_factors(6000, 4000, smallest=2) == [2, 4, 8, 16]
    assert scale_factors(400, 300) == [1]
    assert scale_factors(400, 300, smallest=4) == [4]


def test_info_document_lists_the_ready_made_sizes_and_the_limits():
    info = info_document(
        "https://example.org/iiif/3/7",
        6000,
        4000,
        limits=LIMITS,
        sizes=[(1600, 1067), (256, 171), (800, 533), (1600, 1067)],
        rights="http://creativecommons.org/licenses/by/4.0/",
    )
    assert info["@context"] == "http://iiif.io/api/image/3/context.json"
    assert info["type"] == "ImageService3" and info["profile"] == "level2"
    assert info["protocol"] == "http://iiif.io/api/image"
    assert (info["width"], info["height"]) == (6000, 4000)
    assert (info["maxWidth"], info["maxHeight"], info["maxArea"]) == (4096, 4096, 4096 * 4096)
    # A small image is stated the limits too: sizeUpscaling lets a client ask beyond them.
    small = info_document("https://example.org/iiif/3/8", 1000, 800, limits=LIMITS, sizes=[])
    assert (small["maxWidth"], small["maxHeight"], small["maxArea"]) == (4096, 4096, 4096 * 4096)
    assert "sizeUpscaling" in small["extraFeatures"]
    assert info["sizes"] == [
        {"width": 256, "height": 171},
        {"width": 800, "height": 533},
        {"width": 1600, "height": 1067},
    ]
    assert info["tiles"] == [{"width": 512, "height": 512, "scaleFactors": [1, 2, 4, 8, 16]}]
    assert "webp" in info["extraFormats"] and "gray" in info["extraQualities"]
    assert info["rights"] == "http://creativecommons.org/licenses/by/4.0/"
