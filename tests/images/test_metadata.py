"""No derivative carries anything but pixels: no EXIF (GPS, camera, owner), XMP, IPTC, ICC
profile, comment or text chunk. Checked by parsing the encoded bytes, not by asking Pillow."""

from __future__ import annotations

import struct
import zlib

import pytest
from PIL import Image, ImageCms

from webapp.media.imaging import build_derivatives

from .conftest import decode, encode, insert_png_chunk, png_chunk, upright

SECRETS = [b"SecretCam-7731", b"secret-owner-Hanna", b"secret-xmp-4411", b"secret-comment-93",
           b"secret-iptc-caption", b"secret-text-chunk"]  # fmt: skip


def tagged_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "SecretCam-7731"  # Make
    exif[0x013B] = "secret-owner-Hanna"  # Artist
    exif[0x0112] = 1
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 24.0)
    gps[3], gps[4] = "E", (2.0, 21.0, 3.0)
    return exif


def _rotated_exif() -> Image.Exif:
    exif = tagged_exif()
    exif[0x0112] = 6
    return exif


XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:creator>secret-xmp-4411</dc:creator></x:xmpmeta>'
ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def jpeg_with_everything() -> bytes:
    data = encode(upright(), "JPEG", quality=90, exif=tagged_exif(), xmp=XMP, icc_profile=ICC,
                  comment=b"secret-comment-93")  # fmt: skip
    iptc = (
        b"Photoshop 3.0\0"
        + b"8BIM\x04\x04\0\0"
        + struct.pack(">I", 30)
        + (b"\x1c\x02\x78\x00\x13secret-iptc-caption" + b"\0" * 6)
    )
    return data[:2] + b"\xff\xed" + struct.pack(">H", len(iptc) + 2) + iptc + data[2:]


def png_with_everything() -> bytes:
    data = encode(upright(), "PNG", exif=tagged_exif(), icc_profile=ICC)
    text = png_chunk(b"tEXt", b"Comment\0secret-text-chunk")
    ztxt = png_chunk(b"zTXt", b"Author\0\0" + zlib.compress(b"secret-owner-Hanna"))
    itxt = png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + XMP)
    return insert_png_chunk(data, text + ztxt + itxt, before=b"IDAT")


SOURCES = {
    "jpeg": jpeg_with_everything,
    "jpeg-no-icc": lambda: encode(upright(), "JPEG", exif=tagged_exif(),
                                  comment=b"secret-comment-93"),
    "jpeg-big-rotated": lambda: encode(upright(2000, 1400), "JPEG", exif=_rotated_exif(), xmp=XMP,
                                       comment=b"secret-comment-93"),
    "png": png_with_everything,
    "webp": lambda: encode(upright(), "WEBP", exif=tagged_exif(), xmp=XMP, icc_profile=ICC),
    "tiff": lambda: encode(upright(), "TIFF", exif=tagged_exif(), icc_profile=ICC,
                           tiffinfo={271: "SecretCam-7731", 270: "secret-comment-93",
                                     315: "secret-owner-Hanna"}),
}  # fmt: skip


def jpeg_segments(data: bytes) -> list[int]:
    """Marker codes of every segment before the first scan."""
    assert data[:2] == b"\xff\xd8"
    pos, markers = 2, []
    while True:
        marker = data[pos + 1]
        markers.append(marker)
        if marker == 0xDA:
            return markers
        pos += 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]


def webp_chunks(data: bytes) -> tuple[list[bytes], int]:
    """Chunk types of a RIFF WebP file and the VP8X feature flags (0 without VP8X)."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    pos, chunks, flags = 12, [], 0
    while pos + 8 <= len(data):
        ctype, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        chunks.append(ctype)
        if ctype == b"VP8X":
            flags = data[pos + 8]
        pos += 8 + size + (size & 1)
    return chunks, flags


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_derivatives_carry_no_metadata_at_all(kind):
    source = SOURCES[kind]()
    original = decode(source)
    assert original.getexif().get(0x010F) == "SecretCam-7731"  # the test input really has it
    for d in build_derivatives(source):
        label = f"{kind} -> {d.name}.{d.ext}"
        for secret in SECRETS:
            assert secret not in d.data, f"{label} leaks {secret!r}"
        for marker in (b"Exif\0", b"http://ns.adobe.com", b"ICC_PROFILE", b"Photoshop 3.0"):
            assert marker not in d.data, f"{label} has {marker!r}"
        if d.ext == "jpg":
            markers = jpeg_segments(d.data)
            allowed = {0xE0, 0xDB, 0xC4, 0xC0, 0xC1, 0xC2, 0xDD, 0xDA}  # JFIF, tables, frames
            assert set(markers) <= allowed, f"{label}: segments {[hex(m) for m in markers]}"
        else:
            chunks, flags = webp_chunks(d.data)
            assert set(chunks) <= {b"VP8 ", b"VP8L", b"VP8X", b"ALPH"}, f"{label}: {chunks}"
            assert flags & 0b00101100 == 0, f"{label}: VP8X announces ICC/EXIF/XMP"
        out = decode(d.data)
        assert not {"exif", "icc_profile", "xmp", "comment", "dpi"} & set(out.info), label
        assert len(out.getexif()) == 0, label
