"""Every photograph comes out upright, whatever way the camera stored it and wherever the
orientation was written (EXIF, XMP, PNG eXIf chunk). Checked on pixels, never on tags."""

from __future__ import annotations

import pytest
from PIL import Image

from webapp.media.imaging import build_derivatives, inspect_image

from .conftest import (
    by_name,
    decode,
    encode,
    insert_png_chunk,
    mean_difference,
    png_chunk,
    stored_for,
    upright,
)

WRONG_WAY = 25  # a wrong rotation/mirror of the test picture differs by more than this
RIGHT_WAY = 12  # JPEG + WebP round trips of the right picture differ by less than this


def exif_with(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Test camera"
    return exif


def assert_upright(derivatives, reference: Image.Image) -> None:
    for d in derivatives:
        out = decode(d.data)
        if d.name == "square":
            side = min(reference.size)
            box = ((reference.width - side) // 2, (reference.height - side) // 2)
            ref = reference.crop((*box, box[0] + side, box[1] + side))
        else:
            ref = reference
            assert (out.width > out.height) == (ref.width > ref.height), d.name
        assert mean_difference(out, ref) < RIGHT_WAY, f"{d.name}.{d.ext} is not upright"


@pytest.mark.parametrize("shape", [(480, 320), (320, 480)], ids=["landscape", "portrait"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_jpeg_with_exif_orientation_comes_out_upright(orientation, shape):
    reference = upright(*shape)
    data = encode(
        stored_for(reference, orientation), "JPEG", quality=95, exif=exif_with(orientation)
    )
    assert_upright(build_derivatives(data), reference)
    facts = inspect_image(data)
    assert (facts.width, facts.height) == reference.size


def test_the_reference_picture_really_detects_a_wrong_orientation():
    """Guard for the tests above: a stored-but-not-rotated picture must fail the comparison."""
    reference = upright()
    for orientation in range(2, 9):
        wrong = stored_for(reference, orientation)
        assert mean_difference(wrong, reference) > WRONG_WAY


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_orientation_written_only_in_xmp_is_applied(orientation):
    reference = upright()
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
        'syntax-ns#"><rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
        f'tiff:Orientation="{orientation}"/></rdf:RDF></x:xmpmeta>'
    ).encode()
    data = encode(stored_for(reference, orientation), "JPEG", quality=95, xmp=xmp)
    assert_upright(build_derivatives(data), reference)


@pytest.mark.parametrize("after_pixels", [False, True], ids=["eXIf-before-IDAT", "eXIf-after-IDAT"])
def test_png_exif_chunk_orientation_is_applied(after_pixels):
    reference = upright()
    stored = stored_for(reference, 6)
    if after_pixels:
        exif_body = exif_with(6).tobytes()
        data = insert_png_chunk(encode(stored, "PNG"), png_chunk(b"eXIf", exif_body))
    else:
        data = encode(stored, "PNG", exif=exif_with(6))
    assert_upright(build_derivatives(data), reference)
    assert (inspect_image(data).width, inspect_image(data).height) == reference.size


def test_png_xmp_orientation_is_applied():
    reference = upright()
    xmp = b'<x:xmpmeta><rdf:Description tiff:Orientation="8"/></x:xmpmeta>'
    itxt = b"XML:com.adobe.xmp\0\0\0\0\0" + xmp
    data = insert_png_chunk(encode(stored_for(reference, 8), "PNG"), png_chunk(b"iTXt", itxt))
    assert_upright(build_derivatives(data), reference)


@pytest.mark.parametrize("value", [0, 9, 255, 65535])
def test_invalid_orientation_values_leave_the_picture_as_stored(value):
    reference = upright()
    data = encode(reference, "JPEG", quality=95, exif=exif_with(value))
    assert_upright(build_derivatives(data), reference)
    assert inspect_image(data).width == reference.width


def test_webp_and_tiff_orientation_is_applied():
    reference = upright()
    for fmt in ("WEBP", "TIFF"):
        data = encode(
            stored_for(reference, 6),
            fmt,
            exif=exif_with(6),
            **({"quality": 95} if fmt == "WEBP" else {}),
        )
        assert_upright(build_derivatives(data), reference)


def test_every_derivative_of_a_rotated_photo_has_display_dimensions():
    reference = upright(1200, 800)
    data = encode(stored_for(reference, 6), "JPEG", quality=90, exif=exif_with(6))
    outputs = by_name(build_derivatives(data))
    assert (outputs["medium.webp"].width, outputs["medium.webp"].height) == (800, 533)
    assert (outputs["large.webp"].width, outputs["large.webp"].height) == (1200, 800)


@pytest.mark.parametrize("fmt", ["AVIF", "HEIF"])
def test_avif_and_heic_rotation_is_applied_exactly_once(fmt):
    """Their encoders turn EXIF orientation into the container's rotation boxes; the decoder or
    plugin must rotate, and the pipeline must not rotate a second time."""
    if fmt == "HEIF":
        pytest.importorskip("pillow_heif")
        from webapp.media import imaging

        imaging._ensure_plugins()
    reference = upright()
    stored = stored_for(reference, 6)
    if fmt == "HEIF":  # pillow-heif writes the rotation box from info["exif"]
        stored.info["exif"] = exif_with(6).tobytes()
        data = encode(stored, fmt, quality=95)
    else:
        data = encode(stored, fmt, quality=95, exif=exif_with(6))
    assert_upright(build_derivatives(data), reference)
    assert (inspect_image(data).width, inspect_image(data).height) == reference.size
