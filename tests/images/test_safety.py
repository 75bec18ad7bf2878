"""Hostile, damaged and wrong files are refused quickly, readably and without large allocations;
nothing but an ImageRejected ever comes out, whatever the decoder raises."""

from __future__ import annotations

import io
import json
import random
import struct
import subprocess
import sys
import textwrap
import zipfile

import pytest
from PIL import GifImagePlugin, Image, ImageFile, PngImagePlugin, TiffImagePlugin, WebPImagePlugin

from webapp.media.imaging import (
    ImageRejected,
    ImageTooLarge,
    InvalidImage,
    UnsupportedFormat,
    build_derivatives,
    inspect_image,
)

from .conftest import encode, png_bomb, upright


def jpeg_bomb(width: int, height: int) -> bytes:
    data = bytearray(encode(upright(64, 48), "JPEG"))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def gif_bomb(width: int, height: int) -> bytes:
    """A hand-written GIF whose screen and first frame declare a huge size (1 pixel of data)."""
    screen = struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return b"GIF89a" + screen + frame + b"\x3b"


BOMBS = {
    "png": png_bomb(30000, 30000),
    "jpeg": jpeg_bomb(65000, 65000),
    "gif": gif_bomb(40000, 40000),
}


@pytest.fixture
def decode_spy(monkeypatch):
    """Counts pixel decodes (ImageFile.load) so a test can prove none was attempted."""
    calls = []
    original = ImageFile.ImageFile.load

    def load(self):
        calls.append(self.size)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return calls


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_decompression_bombs_are_refused_from_the_header(kind, decode_spy):
    data = BOMBS[kind]
    for call in (inspect_image, build_derivatives):
        with pytest.raises(ImageTooLarge) as info:
            call(data)
        assert "image too large" in info.value.reason
        assert "the limit is 100 megapixels" in info.value.reason
    assert decode_spy == []


def test_bomb_message_names_the_declared_size():
    with pytest.raises(ImageTooLarge) as info:
        inspect_image(BOMBS["png"])
    assert info.value.reason == "image too large: 30000×30000 pixels, the limit is 100 megapixels"


def test_pixel_limit_is_configurable():
    data = encode(upright(100, 60), "PNG")
    assert inspect_image(data, max_pixels=6000).width == 100  # exactly at the limit: accepted
    with pytest.raises(ImageTooLarge) as info:
        build_derivatives(data, max_pixels=5999)
    assert "100×60" in info.value.reason


@pytest.mark.slow
def test_bombs_stay_small_in_memory_even_under_an_address_space_limit():
    """In a fresh process limited to 1 GiB of address space, refusing bombs of 3.6 GB must still
    say 'image too large: W×H' (an attempted allocation would fail with a different message)."""
    script = textwrap.dedent(
        """
        import json, resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        from webapp.media.imaging import ImageRejected, build_derivatives, inspect_image
        out = []
        for blob in map(bytes.fromhex, json.load(sys.stdin)):
            for call in (inspect_image, build_derivatives):
                try:
                    call(blob)
                    out.append("accepted")
                except ImageRejected as exc:
                    out.append(exc.reason)
        peak = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
        print(json.dumps({"reasons": out, "peak_kib": int(peak)}))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps([b.hex() for b in BOMBS.values()]),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(proc.stdout)
    assert len(result["reasons"]) == 6
    assert all(r.startswith("image too large: ") and "×" in r for r in result["reasons"])
    assert result["peak_kib"] < 200 * 1024


def test_thousands_of_frames_are_never_decoded(monkeypatch):
    frames = [Image.new("P", (32, 32), i % 2) for i in range(2000)]
    for frame in frames:
        frame.putpalette([255, 0, 0, 0, 0, 255])
    gif = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=10)
    assert Image.open(io.BytesIO(gif)).n_frames == 2000
    seeks = []
    for cls in (GifImagePlugin.GifImageFile, PngImagePlugin.PngImageFile,
                WebPImagePlugin.WebPImageFile, TiffImagePlugin.TiffImageFile):  # fmt: skip
        original = cls.seek

        def spy(self, frame, _original=original):
            seeks.append(frame)
            return _original(self, frame)

        monkeypatch.setattr(cls, "seek", spy)
    inspect_image(gif)
    build_derivatives(gif)
    assert [f for f in seeks if f != 0] == []


def _samples() -> dict[str, bytes]:
    ref = upright(160, 120)
    return {
        "jpeg": encode(ref, "JPEG", quality=90),
        "progressive-jpeg": encode(ref, "JPEG", quality=90, progressive=True),
        "png": encode(ref, "PNG"),
        "gif": encode(ref.convert("P"), "GIF"),
        "webp": encode(ref, "WEBP"),
        "tiff": encode(ref, "TIFF", compression="tiff_deflate"),
        "bmp": encode(ref, "BMP"),
        "avif": encode(ref, "AVIF"),
    }


SAMPLES = _samples()


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_truncated_files_are_reported_as_damaged(kind):
    data = SAMPLES[kind][: len(SAMPLES[kind]) * 6 // 10]
    with pytest.raises(InvalidImage) as info:
        build_derivatives(data)
    assert info.value.reason.startswith("the image is damaged or incomplete")
    assert "Traceback" not in info.value.reason and "\n" not in info.value.reason


@pytest.mark.parametrize("kind", ["jpeg", "progressive-jpeg", "png"])
def test_truncated_uploads_are_caught_on_the_upload_path_without_decoding(kind, decode_spy):
    data = SAMPLES[kind][: len(SAMPLES[kind]) * 6 // 10]
    with pytest.raises(InvalidImage) as info:
        inspect_image(data)
    assert "truncated" in info.value.reason
    assert decode_spy == []


def test_corrupt_png_checksum_is_caught_on_upload():
    data = bytearray(SAMPLES["png"])
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(InvalidImage) as info:
        inspect_image(bytes(data))
    assert info.value.reason == "the image is damaged or incomplete (corrupt PNG data)"


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_mangled_files_only_ever_raise_image_rejected(kind):
    """Truncations, flipped bytes and overwritten runs at many places: each call either succeeds
    or raises an ImageRejected with a one-line reason, never another exception."""
    rng = random.Random(kind)
    original = SAMPLES[kind]
    for _ in range(25):
        data = bytearray(original)
        how = rng.choice(["truncate", "flip", "run"])
        at = rng.randrange(2, len(data))
        if how == "truncate":
            del data[at:]
        elif how == "flip":
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(2, len(data))] ^= 1 << rng.randrange(8)
        else:
            data[at : at + 64] = rng.randbytes(64)
        for call in (inspect_image, build_derivatives):
            try:
                call(bytes(data))
            except ImageRejected as exc:
                assert exc.reason and "\n" not in exc.reason


def test_broken_exif_does_not_reject_a_good_photo():
    good = encode(upright(), "JPEG", quality=90)
    app1 = b"Exif\0\0MM\0*\0\0\0\x08\xff\xff" + b"\x07" * 40
    data = good[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + good[2:]
    assert inspect_image(data).width == 480
    assert len(build_derivatives(data)) == 5


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("photo.jpg", b"not really")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nendobj\n", "PDF"),
        (b"<!DOCTYPE html>\n<html><body>hi</body></html>", "HTML"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
        (_zip(), "ZIP"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2mp41", "video"),
        (b"Dear archivist, here is my grandmother's story.", "text"),
        (random.Random(1).randbytes(4096), "not a recognised image"),
    ],
    ids=["pdf", "html", "svg", "zip", "mp4", "text", "random"],
)
def test_non_images_are_refused_as_unsupported_naming_what_they_are(data, named):
    for call in (inspect_image, build_derivatives):
        with pytest.raises(UnsupportedFormat) as info:
            call(data)
        assert info.value.reason.startswith("unsupported format: ")
        assert named in info.value.reason


def test_empty_file_is_invalid():
    with pytest.raises(InvalidImage) as info:
        inspect_image(b"")
    assert info.value.reason == "the file is empty"


def test_streams_are_accepted_like_bytes(tmp_path):
    data = encode(upright(), "JPEG", quality=90)
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    with path.open("rb") as stream:
        assert inspect_image(stream).width == 480
    with path.open("rb") as stream:
        assert [d.data for d in build_derivatives(stream)] == [
            d.data for d in build_derivatives(data)
        ]
