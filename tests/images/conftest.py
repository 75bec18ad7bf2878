"""Helpers for the image pipeline tests: images are generated with Pillow at test time.

The reference picture is asymmetric (four differently coloured quadrants plus a marker in one
corner) so that any wrong rotation or mirror shows up as a large pixel difference.
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageChops, ImageDraw, ImageStat

QUADRANTS = ((200, 30, 30), (30, 170, 40), (40, 60, 210), (230, 210, 40))


def upright(width: int = 480, height: int = 320) -> Image.Image:
    """Red top-left, green top-right, blue bottom-left, yellow bottom-right, a white dot near the
    top-left corner: every one of the 8 orientations gives a different picture."""
    im = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(im)
    hw, hh = width // 2, height // 2
    for (x, y), colour in zip(((0, 0), (hw, 0), (0, hh), (hw, hh)), QUADRANTS, strict=True):
        draw.rectangle((x, y, x + hw, y + hh), fill=colour)
    r = min(width, height) // 10
    draw.ellipse((r, r, 3 * r, 3 * r), fill=(255, 255, 255))
    return im


# Pixel operation that, applied to an upright picture, gives what a camera stores for each EXIF
# orientation (the inverse of what a viewer applies).
STORE = {
    1: [],
    2: [Image.Transpose.FLIP_LEFT_RIGHT],
    3: [Image.Transpose.ROTATE_180],
    4: [Image.Transpose.FLIP_TOP_BOTTOM],
    5: [Image.Transpose.TRANSPOSE],
    6: [Image.Transpose.ROTATE_90],
    7: [Image.Transpose.TRANSVERSE],
    8: [Image.Transpose.ROTATE_270],
}


def stored_for(im: Image.Image, orientation: int) -> Image.Image:
    for op in STORE[orientation]:
        im = im.transpose(op)
    return im


def encode(im: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel (0-255) after bringing b to a's size."""
    a = a.convert("RGB")
    b = b.convert("RGB").resize(a.size, Image.Resampling.LANCZOS)
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def by_name(derivatives) -> dict[str, object]:
    return {f"{d.name}.{d.ext}": d for d in derivatives}


def png_chunk(ctype: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body))
        + ctype
        + body
        + struct.pack(">I", zlib.crc32(ctype + body) & 0xFFFFFFFF)
    )


def insert_png_chunk(png: bytes, chunk: bytes, *, before: bytes = b"IEND") -> bytes:
    """Insert a chunk just before the first chunk of type ``before``."""
    pos = 8
    while True:
        length, ctype = struct.unpack(">I4s", png[pos : pos + 8])
        if ctype == before:
            return png[:pos] + chunk + png[pos:]
        pos += 12 + length


def raw_png(
    width: int, height: int, depth: int, colour_type: int, rows: list[bytes], *, interlace=False
) -> bytes:
    """A PNG written by hand, for what Pillow cannot write (16-bit RGB, Adam7 interlacing).

    ``rows`` are unfiltered scanlines of the full image; with ``interlace`` they are split into
    the 7 Adam7 passes here (only for depths that are whole bytes per pixel).
    """
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    bpp = channels * depth // 8
    if interlace:
        passes = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
                  (1, 0, 2, 2), (0, 1, 1, 2))  # fmt: skip
        payload = b""
        for x0, y0, dx, dy in passes:
            for y in range(y0, height, dy):
                line = b"".join(rows[y][x * bpp : (x + 1) * bpp] for x in range(x0, width, dx))
                if line:
                    payload += b"\0" + line
    else:
        payload = b"".join(b"\0" + row for row in rows)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 1 if interlace else 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(payload))
        + png_chunk(b"IEND", b"")
    )


def png_bomb(width: int, height: int) -> bytes:
    """A valid-looking PNG header declaring a huge image, with a few bytes of pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + png_chunk(b"IEND", b"")
    )
