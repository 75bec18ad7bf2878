"""Every format a family's photos arrive in gives correct derivatives; others are refused by name.

Each test checks what a person would see: the derivative shows the same picture (pixels compared
with the source), in the right colours, with transparency on a light background.
"""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image, ImageCms, ImageDraw

from webapp.media import imaging
from webapp.media.imaging import (
    DEFAULT_SPECS,
    UnsupportedFormat,
    build_derivatives,
    inspect_image,
)

from .conftest import by_name, decode, encode, mean_difference, raw_png, upright

CLOSE = 12  # mean per-channel difference of a faithful derivative after lossy encoding


def assert_faithful(data: bytes, reference: Image.Image, fmt: str) -> None:
    facts = inspect_image(data)
    assert facts.format == fmt
    assert (facts.width, facts.height) == reference.size
    outputs = by_name(build_derivatives(data))
    assert set(outputs) == {f"{s.name}.{s.ext}" for s in DEFAULT_SPECS}
    assert mean_difference(decode(outputs["medium.webp"].data), reference) < CLOSE
    assert mean_difference(decode(outputs["download.jpg"].data), reference) < CLOSE


@pytest.mark.parametrize(
    "params",
    [{}, {"progressive": True}, {"subsampling": 0}],
    ids=["baseline", "progressive", "444"],
)
def test_jpeg_variants(params):
    ref = upright()
    assert_faithful(encode(ref, "JPEG", quality=95, **params), ref, "JPEG")


def test_cmyk_jpeg_comes_out_in_the_right_colours_not_as_a_negative():
    """Written like Photoshop does (inverted CMYK values flagged by an Adobe APP14 marker)."""
    ref = upright()
    data = encode(ref.convert("CMYK"), "JPEG", quality=95)
    assert decode(data).mode == "CMYK" and b"\xff\xee\x00\x0eAdobe" in data[:64]
    assert_faithful(data, ref, "JPEG")


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "RGBA", "LA", "I;16"])
def test_png_modes(mode):
    ref = upright()
    if mode == "I;16":
        source = ref.convert("L").convert("I").point(lambda v: v * 257).convert("I;16")
        expected = ref.convert("L")
    elif mode == "1":
        source, expected = ref.convert("1"), ref.convert("1")
    elif mode == "P":
        source, expected = ref.quantize(256), ref  # adaptive palette: exact for this picture
    else:
        source, expected = ref.convert(mode), ref.convert(mode[0] if mode in ("L", "LA") else "RGB")
    data = encode(source, "PNG")
    out = decode(by_name(build_derivatives(data))["medium.webp"].data)
    assert mean_difference(out, expected) < CLOSE


def test_sixteen_bit_grey_keeps_its_tones_instead_of_turning_white():
    grey = Image.new("I", (64, 64), 0x8080).convert("I;16")
    out = decode(build_derivatives(encode(grey, "PNG"))[0].data).convert("L")
    assert abs(out.getpixel((32, 32)) - 128) < 6


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_low_bit_depth_palette_png(depth):
    ref = upright().quantize(colors=2**depth)
    data = encode(ref, "PNG", bits=depth)
    out = decode(by_name(build_derivatives(data))["medium.webp"].data)
    assert mean_difference(out, ref) < CLOSE


def test_sixteen_bit_rgb_png():
    ref = upright(96, 64)
    rows = [
        b"".join(struct.pack(">HHH", *(c * 257 for c in ref.getpixel((x, y)))) for x in range(96))
        for y in range(64)
    ]
    data = raw_png(96, 64, 16, 2, rows)
    assert decode(data).size == (96, 64)
    out = decode(by_name(build_derivatives(data))["medium.webp"].data)
    assert mean_difference(out, ref) < CLOSE


def test_interlaced_png():
    ref = upright(96, 64)
    rows = [b"".join(bytes(ref.getpixel((x, y))) for x in range(96)) for y in range(64)]
    data = raw_png(96, 64, 8, 2, rows, interlace=True)
    assert Image.open(io.BytesIO(data)).info.get("interlace") == 1
    out = decode(by_name(build_derivatives(data))["medium.webp"].data)
    assert mean_difference(out, ref) < CLOSE


@pytest.mark.parametrize("kind", ["RGBA", "LA", "P-tRNS", "GIF", "WEBP"])
def test_transparency_is_flattened_on_a_light_background_never_black(kind):
    im = Image.new("RGBA", (200, 200), (0, 0, 0, 0))  # fully transparent black
    ImageDraw.Draw(im).rectangle((50, 50, 150, 150), fill=(20, 40, 200, 255))
    # Palette version: index 0 is transparent black, index 1 the opaque blue.
    palette = Image.new("P", (200, 200), 0)
    palette.putpalette([0, 0, 0, 20, 40, 200])
    ImageDraw.Draw(palette).rectangle((50, 50, 150, 150), fill=1)
    if kind == "RGBA":
        data = encode(im, "PNG")
    elif kind == "LA":
        data = encode(im.convert("LA"), "PNG")
    elif kind == "P-tRNS":
        data = encode(palette, "PNG", transparency=0)
    elif kind == "GIF":
        data = encode(palette, "GIF", transparency=0)
    else:
        data = encode(im, "WEBP", lossless=True)
    for d in build_derivatives(data):
        out = decode(d.data).convert("RGB")
        corner = out.getpixel((1, 1))
        assert min(corner) > 235, f"{kind} {d.name}.{d.ext}: corner {corner} is not light"
        r, g, b = out.getpixel((out.width // 2, out.height // 2))
        if kind == "LA":
            assert max(r, g, b) < 90, f"{kind}: the drawing itself was lost"
        else:
            assert b > 150 and r < 90, f"{kind}: the drawing itself was lost"


def test_animated_webp_and_gif_use_their_first_frame():
    red, blue = (
        Image.new("RGB", (120, 80), (220, 20, 20)),
        Image.new("RGB", (120, 80), (20, 20, 220)),
    )
    for fmt in ("WEBP", "GIF"):
        data = encode(red, fmt, save_all=True, append_images=[blue, red, blue], duration=100)
        assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 4
        assert inspect_image(data).format == fmt
        out = decode(build_derivatives(data)[0].data).convert("RGB")
        r, g, b = out.getpixel((60, 40))
        assert r > 180 and b < 60, f"{fmt}: not the first frame"


def test_multi_page_tiff_uses_the_first_page():
    red, blue = (
        Image.new("RGB", (120, 80), (220, 20, 20)),
        Image.new("RGB", (120, 80), (20, 20, 220)),
    )
    data = encode(red, "TIFF", save_all=True, append_images=[blue], compression="tiff_deflate")
    out = decode(build_derivatives(data)[0].data).convert("RGB")
    assert out.getpixel((60, 40))[0] > 180


def test_one_bit_group4_tiff_scan():
    page = Image.new("1", (800, 1000), 1)
    ImageDraw.Draw(page).rectangle((100, 100, 700, 300), fill=0)
    data = encode(page, "TIFF", compression="group4")
    facts = inspect_image(data)
    assert (facts.format, facts.width, facts.height) == ("TIFF", 800, 1000)
    out = decode(by_name(build_derivatives(data))["medium.webp"].data).convert("L")
    assert out.size == (640, 800)
    assert out.getpixel((320, 160)) < 40 and out.getpixel((320, 600)) > 220


def test_bmp():
    ref = upright()
    assert_faithful(encode(ref, "BMP"), ref, "BMP")


def test_mpo_uses_the_first_picture():
    left, right = upright(), Image.new("RGB", (480, 320), (0, 0, 0))
    data = encode(left, "MPO", save_all=True, append_images=[right], quality=95)
    facts = inspect_image(data)
    assert facts.format == "MPO" and facts.mime == "image/jpeg"
    out = decode(by_name(build_derivatives(data))["medium.webp"].data)
    assert mean_difference(out, left) < CLOSE


def test_avif():
    ref = upright()
    assert_faithful(encode(ref, "AVIF", quality=90), ref, "AVIF")


def test_heic_when_the_plugin_is_installed():
    pytest.importorskip("pillow_heif")
    imaging._ensure_plugins()
    ref = upright()
    data = encode(ref, "HEIF", quality=90)
    assert_faithful(data, ref, "HEIF")
    assert inspect_image(data).mime == "image/heic"


def test_heic_without_the_plugin_is_refused_with_a_clear_message(monkeypatch):
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    imaging._ensure_plugins()
    monkeypatch.setattr(imaging, "_heif_available", False)
    with pytest.raises(UnsupportedFormat) as info:
        inspect_image(heic)
    assert "HEIC" in info.value.reason and "JPEG" in info.value.reason


def test_embedded_icc_profile_is_applied():
    """A photo tagged with a profile whose red and green primaries are swapped must come out with
    red and green swapped: proof that the profile, not the raw numbers, decides the colours."""
    swapped = _swapped_primaries_profile()
    red = Image.new("RGB", (64, 64), (255, 0, 0))
    data = encode(red, "PNG", icc_profile=swapped)
    out = decode(build_derivatives(data)[0].data).convert("RGB")
    r, g, b = out.getpixel((32, 32))
    assert g > 200 and r < 60, (r, g, b)


def test_srgb_tagged_photo_keeps_its_colours():
    ref = upright()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(ref, "JPEG", quality=95, icc_profile=srgb)
    out = decode(by_name(build_derivatives(data))["medium.webp"].data)
    assert mean_difference(out, ref) < CLOSE


def test_broken_icc_profile_is_ignored_not_fatal():
    ref = upright()
    data = encode(ref, "JPEG", quality=95, icc_profile=b"not a profile at all" * 10)
    out = decode(by_name(build_derivatives(data))["medium.webp"].data)
    assert mean_difference(out, ref) < CLOSE


@pytest.mark.parametrize(
    ("fmt", "name"),
    [("JPEG2000", "JPEG 2000"), ("ICO", "ICO"), ("PPM", "PPM"), ("TGA", None), ("PCX", None)],
)
def test_other_image_formats_are_refused_naming_the_format(fmt, name):
    data = encode(upright(64, 48), fmt)
    with pytest.raises(UnsupportedFormat) as info:
        inspect_image(data)
    assert info.value.reason.startswith("unsupported format")
    if name:
        assert name in info.value.reason
    with pytest.raises(UnsupportedFormat):
        build_derivatives(data)


def test_camera_raw_dng_is_refused_rather_than_publishing_its_preview():
    preview = Image.new("RGB", (160, 120), (90, 90, 90))
    data = encode(preview, "TIFF", tiffinfo={50706: b"\x01\x04\x00\x00"})
    with pytest.raises(UnsupportedFormat) as info:
        inspect_image(data)
    assert "RAW" in info.value.reason


def _swapped_primaries_profile() -> bytes:
    """An RGB matrix/TRC ICC profile equal to sRGB except red and green primaries swapped."""
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    tags = {}
    count = struct.unpack(">I", srgb[128:132])[0]
    for i in range(count):
        sig, offset, size = struct.unpack(">4sII", srgb[132 + 12 * i : 144 + 12 * i])
        tags[sig] = srgb[offset : offset + size]
    tags[b"rXYZ"], tags[b"gXYZ"] = tags[b"gXYZ"], tags[b"rXYZ"]
    tags[b"desc"] = tags[b"desc"].replace("sRGB".encode("utf-16-be"), "Swap".encode("utf-16-be"))
    keep = [b"desc", b"wtpt", b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC"]
    table, body = b"", b""
    base = 128 + 4 + 12 * len(keep)
    for sig in keep:
        data = tags[sig] + b"\0" * (-len(tags[sig]) % 4)
        table += struct.pack(">4sII", sig, base + len(body), len(tags[sig]))
        body += data
    header = bytearray(srgb[:128])
    total = base + len(body)
    header[0:4] = struct.pack(">I", total)
    header[84:100] = b"\0" * 16  # profile ID (MD5) no longer valid
    return bytes(header) + struct.pack(">I", len(keep)) + table + body
