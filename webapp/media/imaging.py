"""Pure image code: identify an upload and build its web derivatives.

This module is the only place that decodes photographs. ``inspect_image`` runs on the upload path
(cheap: header, declared size, a reduced decode to catch damaged files) and ``build_derivatives``
runs in the worker (one decode, scale-on-load, orientation, sRGB, every size from the larger
result, no metadata). Both take bytes and return values; they must never touch the database,
storage, the queue or the network, never change Pillow's global settings (the pixel limit, the
truncated-image switch), never allocate a pixel buffer before the declared size was checked, and
never let an exception other than :class:`ImageRejected` escape: whatever a decoder raises on a
hostile or damaged file becomes a readable reason for the archivist.
"""

from __future__ import annotations

import io
import logging
import math
import re
import struct
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, ImageCms, ImageFile

log = logging.getLogger(__name__)

#: Largest declared image accepted, in pixels (width × height of the first frame). 100 MP covers
#: the biggest phone and flatbed-scanner files; a bomb declaring more is refused from its header.
DEFAULT_MAX_PIXELS = 100_000_000

#: Exceptions the pipeline must let through untouched although they subclass ``Exception``: the
#: worker registers its job time-out here (see ``workers.worker``) so a job stopped for its time
#: limit says so, instead of "the image could not be processed". Kept as a hook so that this
#: module never imports RQ.
NEVER_SWALLOW: tuple[type[BaseException], ...] = ()

#: Largest first frame that ``inspect_image`` decodes to detect damage in formats that have no
#: cheap structural check (GIF, WebP, TIFF, BMP, AVIF, HEIC): 25 MP is 75 MB of RGB.
INSPECT_DECODE_MAX_PIXELS = 25_000_000

#: Colour that transparent areas are flattened onto: a light page, so a transparent logo or a
#: cut-out scan never turns into a black square.
BACKGROUND = (255, 255, 255)


class ImageRejected(Exception):
    """An upload or original we will not turn into derivatives.

    ``code`` and ``params`` say why for people (``webapp.labels.REASON`` holds the words in
    each language; ``webapp.reasons`` stores and reads them); ``reason`` is the same in English,
    for logs and the command line.
    """

    def __init__(self, reason: str, code: str = "image_unprocessable", **params: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.params = params if params or code != "image_unprocessable" else {"detail": reason}


class UnsupportedFormat(ImageRejected):
    """Not an image, or an image format we do not accept (the reason names it when known)."""


class InvalidImage(ImageRejected):
    """Looks like a supported image but cannot be decoded: damaged, truncated, empty."""


class ImageTooLarge(ImageRejected):
    """Declares more pixels than the limit (a decompression bomb or an enormous scan)."""


@dataclass(frozen=True)
class ImageFacts:
    """What the upload path needs to know; width/height are as displayed (orientation applied)."""

    format: str
    mime: str
    width: int
    height: int


@dataclass(frozen=True)
class Derivative:
    """One encoded derivative, stored by the worker as ``derivatives/<media-id>/<name>.<ext>``."""

    name: str
    ext: str
    mime: str
    width: int
    height: int
    data: bytes


@dataclass(frozen=True)
class DerivativeSpec:
    """One output: ``size`` is the longest side (or the side of a centred square crop).

    ``format`` is ``"WEBP"`` or ``"JPEG"``; ``quality`` is the encoder quality (0-100); ``effort``
    is libwebp's ``method`` (0 fast … 6 small), ignored for JPEG; ``progressive`` is for JPEG
    (Huffman tables are always optimised). Names must be unique within a set: callers key the
    stored derivatives by name.
    """

    name: str
    size: int
    square: bool = False
    format: str = "WEBP"
    quality: int = 80
    effort: int = 4
    progressive: bool = False

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"derivative {self.name!r}: size must be positive")
        if self.format not in _OUTPUT_FORMATS:
            raise ValueError(f"derivative {self.name!r}: format must be one of {_OUTPUT_FORMATS}")
        if not 0 <= self.quality <= 100 or not 0 <= self.effort <= 6:
            raise ValueError(f"derivative {self.name!r}: quality 0-100, effort 0-6")

    @property
    def ext(self) -> str:
        return _OUTPUT_FORMATS[self.format][0]

    @property
    def mime(self) -> str:
        return _OUTPUT_FORMATS[self.format][1]


_OUTPUT_FORMATS = {"WEBP": ("webp", "image/webp"), "JPEG": ("jpg", "image/jpeg")}

#: The set the worker writes. Settings chosen with ``bench/images.py --tune`` (figures in
#: bench/RESULTS.md): libwebp ``method`` 2 gives the same SSIM as the default 4 at 2.5× less encode
#: time for 1600/800 px and only ~2 % more bytes (6 is slower *and* scores lower); the 256 px
#: sizes cost ~5 ms at method 4, which is a little smaller and sharper there. ``download`` is
#: ``large`` as a JPEG: the copy people download, e-mail or share, and the ``<img>`` fallback
#: (some mail clients and link previews still cannot show WebP). It is baseline with optimised
#: Huffman tables: progressive saved under 3 % of bytes for twice the encode time.
DEFAULT_SPECS: tuple[DerivativeSpec, ...] = (
    DerivativeSpec("large", 1600, format="WEBP", quality=80, effort=2),
    DerivativeSpec("download", 1600, format="JPEG", quality=82),
    DerivativeSpec("medium", 800, format="WEBP", quality=80, effort=2),
    DerivativeSpec("thumb", 256, format="WEBP", quality=80, effort=4),
    DerivativeSpec("square", 256, square=True, format="WEBP", quality=80, effort=4),
)

#: The first resize goes from the decoded image (already scaled on load for JPEG) to the largest
#: output. Where the decoder cannot scale on load (PNG, TIFF, WebP…), an integer box reduction
#: first brings it to ≥ 1× the target, as JPEG DCT scaling does (SSIM 0.995 against a full
#: Lanczos for a third of the time). Bicubic rather than Lanczos for this step: measured on the
#: bench photos, its outputs are 6 % smaller at the same encoder settings for 0.002 less SSIM,
#: i.e. the same bytes per SSIM, and the step is 30 % faster. Later steps resample small images:
#: Lanczos with Pillow's default gap.
FIRST_REDUCING_GAP = 1.0
FIRST_RESAMPLE = Image.Resampling.BICUBIC
REDUCING_GAP = 2.0
RESAMPLE = Image.Resampling.LANCZOS
RESAMPLE = Image.Resampling.LANCZOS

#: Formats accepted as originals, in sniffing order. HEIF needs the optional pillow-heif plugin.
SUPPORTED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF", "HEIF")

_MIME = {
    "JPEG": "image/jpeg",
    # An MPO (stereo / multi-picture camera file) is a JPEG with extra frames appended; browsers
    # and our derivatives use its first frame, so it is served and described as a JPEG.
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
    "AVIF": "image/avif",
    "HEIF": "image/heic",
}


def accepted_mime_types() -> list[str]:
    """The MIME types of the accepted originals, for forms that check a file before sending it."""
    return sorted({_MIME[name] for name in SUPPORTED_FORMATS})


# Names for common things people upload by mistake, so the refusal can say what it saw.
_FOREIGN_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "PDF"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"PK\x05\x06", "ZIP archive"),
    (b"\x1f\x8b", "gzip archive"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"8BPS", "PSD (Photoshop)"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
    (b"II*\x00\x10\x00\x00\x00CR", "camera RAW (CR2)"),
    (b"FUJIFILMCCD-RAW", "camera RAW (RAF)"),
    (b"\x7fELF", "program (ELF)"),
    (b"MZ", "Windows program"),
    (b"OggS", "Ogg audio/video"),
    (b"ID3", "MP3 audio"),
    (b"{\\rtf", "RTF document"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "Microsoft Office document"),
)
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"mif2"}
_AVIF_BRANDS = {b"avif", b"avis"}
_DNG_VERSION_TAG = 50706
_NEW_SUBFILE_TYPE_TAG = 254
_ORIENTATION_TAG = 0x0112
_XMP_ORIENTATION = re.compile(rb"tiff:Orientation\s*(?:=\s*[\"']|>)\s*(\d+)")

_plugins_lock = threading.Lock()
_plugins_ready = False
_heif_available = False


def inspect_image(data: bytes | BinaryIO, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageFacts:
    """Identify an upload by its content and check that it decodes, without decoding it fully.

    Why so careful: this runs inside a web request on untrusted bytes. The format comes from magic
    bytes (never the file name or the client's MIME type), the declared size is checked before any
    pixel buffer exists, and the common truncated upload is caught in well under a millisecond.

    JPEG and PNG are checked structurally (JPEG: every header segment well-formed and an end
    marker after the scan data; PNG: every chunk checksum and the end chunk) because even a 1/8
    scale JPEG decode must entropy-decode the whole file (~100 ms for 24 MP). Other formats get a
    decode of their first frame when it is at most ``INSPECT_DECODE_MAX_PIXELS`` (a 90 MP TIFF
    scan would cost the web process 270 MB). The worker's full decode remains the final word.
    """
    raw = _read_all(data)
    im, fmt = _open(raw, max_pixels)
    try:
        width, height = _declared_size(im)
        if fmt in ("JPEG", "MPO"):
            _check_jpeg_structure(raw, fmt)
        elif fmt == "PNG":
            _png_walk(raw, verify=True)
        elif width * height <= INSPECT_DECODE_MAX_PIXELS:
            _decode(im, fmt)
        orientation = _orientation(im, raw, fmt)
    finally:
        im.close()
    if orientation >= 5:
        width, height = height, width
    return ImageFacts(
        format=fmt, mime=_MIME.get(fmt, "application/octet-stream"), width=width, height=height
    )


def build_derivatives(
    data: bytes | BinaryIO,
    specs: Sequence[DerivativeSpec] = DEFAULT_SPECS,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[Derivative]:
    """Decode once and encode every spec, in the order given; all or nothing.

    Why in this order of operations: the JPEG decoder scales on load to the smallest power-of-two
    reduction that still covers the largest output, the first resize happens before colour work and
    rotation so both run on ~2 MP instead of 24 MP, and each smaller size is resampled from the
    smallest result already made that covers it. Output is deterministic (same bytes for the same
    input and specs) because nothing depends on time, threads or randomness. A spec set with
    duplicate names raises ValueError: that is the caller's bug, not the photo's fault.
    """
    if not specs:
        return []
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"derivative names must be unique: {names}")
    raw = _read_all(data)
    im, fmt = _open(raw, max_pixels)
    try:
        width, height = _declared_size(im)
        plans = [_Plan.for_spec(spec, width, height) for spec in specs]
        base_scale = max(plan.scale for plan in plans)
        if fmt in ("JPEG", "MPO"):
            # Ask for at least the base size: libjpeg's DCT scaling is as good as a box filter.
            im.draft(None, (math.ceil(width * base_scale), math.ceil(height * base_scale)))
        _decode(im, fmt)
        orientation = _orientation(im, raw, fmt)
        base = _normalise_mode(im)
        base_size = (_scaled(width, base_scale), _scaled(height, base_scale))
        if base.size != base_size:
            base = base.resize(base_size, FIRST_RESAMPLE, reducing_gap=FIRST_REDUCING_GAP)
        base = _to_srgb(base, im.info.get("icc_profile"))
        base = _orient(base, orientation)
        shown = (height, width) if orientation >= 5 else (width, height)
        return _render(base, base_scale, plans, shown)
    except ImageRejected:
        raise
    except MemoryError as exc:
        raise ImageTooLarge(
            "the image needs more memory than a worker may use", "image_memory"
        ) from exc
    except NEVER_SWALLOW:
        raise
    except Exception as exc:  # a decoder's lazy error, a broken mode: never leak it
        log.warning("image processing failed (%s)", fmt, exc_info=True)
        raise InvalidImage(
            f"the image could not be processed ({_short(exc)})",
            "image_unprocessable",
            detail=_short(exc),
        ) from exc
    finally:
        im.close()


@dataclass(frozen=True)
class _Plan:
    """A spec translated to a scale of the declared (unrotated) image and an output size."""

    spec: DerivativeSpec
    scale: float

    @classmethod
    def for_spec(cls, spec: DerivativeSpec, width: int, height: int) -> _Plan:
        side = min(width, height) if spec.square else max(width, height)
        return cls(spec, min(1.0, spec.size / side))


def _render(
    base: Image.Image, base_scale: float, plans: list[_Plan], shown: tuple[int, int]
) -> list[Derivative]:
    """Resample every plan from the smallest full-frame image already made that covers it.

    ``shown`` is the declared size as displayed (after orientation); output sizes are computed
    from it rather than from intermediate results so rounding never accumulates.
    """
    made: list[tuple[float, Image.Image]] = [(base_scale, base)]
    images: dict[tuple[float, bool], Image.Image] = {}
    for plan in sorted(plans, key=lambda p: -p.scale):
        key = (plan.scale, plan.spec.square)
        if key in images:
            continue
        _, source = min((m for m in made if m[0] >= plan.scale), key=lambda m: m[0])
        w, h = _scaled(shown[0], plan.scale), _scaled(shown[1], plan.scale)
        if plan.spec.square:
            side = min(w, h)
            sw, sh = source.size
            crop = min(sw, sh)
            box = ((sw - crop) / 2, (sh - crop) / 2, (sw + crop) / 2, (sh + crop) / 2)
            if (side, side) == source.size:
                out = source
            else:
                out = source.resize((side, side), RESAMPLE, box=box, reducing_gap=REDUCING_GAP)
        else:
            if (w, h) == source.size:
                out = source
            else:
                out = source.resize((w, h), RESAMPLE, reducing_gap=REDUCING_GAP)
            made.append((plan.scale, out))
        images[key] = out
    return [_encode(images[(plan.scale, plan.spec.square)], plan.spec) for plan in plans]


def _encode(im: Image.Image, spec: DerivativeSpec) -> Derivative:
    """Encode with no metadata at all. ``info`` is emptied first because resize and convert copy
    the original's EXIF/ICC/XMP/comment into it and Pillow's JPEG encoder writes ``comment``."""
    im.info = {}  # every image here was made by this module: clearing is safe
    buf = io.BytesIO()
    if spec.format == "WEBP":
        im.save(buf, "WEBP", quality=spec.quality, method=spec.effort)
    else:
        im.save(buf, "JPEG", quality=spec.quality, optimize=True, progressive=spec.progressive)
    return Derivative(
        name=spec.name,
        ext=spec.ext,
        mime=spec.mime,
        width=im.width,
        height=im.height,
        data=buf.getvalue(),
    )


# --- regions of an original (IIIF) ---------------------------------------------------------------


def cut_region(
    data: bytes | BinaryIO,
    box: tuple[int, int, int, int],
    size: tuple[int, int],
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_decoded_pixels: int = INSPECT_DECODE_MAX_PIXELS,
) -> Image.Image:
    """Cut ``box`` (left, top, right, bottom, in the image as displayed: orientation applied) out
    of an original and scale it to ``size``; an upright RGB image in sRGB, like the derivatives.

    Why here: it is a decode of an untrusted original, with the same care as the worker's. A
    JPEG is decoded scaled on load to the smallest reduction that still covers the box at the
    requested scale (a tile at a quarter of a 24 MP photo decodes 1.5 MP, not 24), the box is
    cut before colour conversion and orientation so both run on the output's pixels only, and a
    decode that would still hold more than ``max_decoded_pixels`` is refused with
    :class:`ImageTooLarge` before any pixel buffer exists.
    """
    raw = _read_all(data)
    im, fmt = _open(raw, max_pixels)
    try:
        stored_w, stored_h = _declared_size(im)
        orientation = _orientation(im, raw, fmt)
        left, top, right, bottom = _stored_box(box, orientation, stored_w, stored_h)
        out_w, out_h = (size[1], size[0]) if orientation >= 5 else size
        if fmt in ("JPEG", "MPO"):
            scale_x, scale_y = out_w / (right - left), out_h / (bottom - top)
            im.draft(None, (math.ceil(stored_w * scale_x), math.ceil(stored_h * scale_y)))
        decoded_w, decoded_h = im.size
        if decoded_w * decoded_h > max_decoded_pixels:
            raise ImageTooLarge(
                f"cutting this region needs {decoded_w}×{decoded_h} decoded pixels; at most "
                f"{_megapixels(max_decoded_pixels)} megapixels are decoded on demand",
                "region_too_large",
                width=decoded_w,
                height=decoded_h,
                limit=_megapixels(max_decoded_pixels),
            )
        _decode(im, fmt)
        base = _normalise_mode(im)
        fx, fy = decoded_w / stored_w, decoded_h / stored_h
        scaled = (left * fx, top * fy, right * fx, bottom * fy)
        out = base.resize((out_w, out_h), RESAMPLE, box=scaled, reducing_gap=REDUCING_GAP)
        out = _to_srgb(out, im.info.get("icc_profile"))
        return _orient(out, orientation)
    except ImageRejected:
        raise
    except MemoryError as exc:
        raise ImageTooLarge(
            "the image needs more memory than may be used on demand", "image_memory_on_demand"
        ) from exc
    except NEVER_SWALLOW:
        raise
    except Exception as exc:  # a decoder's lazy error, a broken mode: never leak it
        log.warning("cutting a region failed (%s)", fmt, exc_info=True)
        raise InvalidImage(
            f"the image could not be processed ({_short(exc)})",
            "image_unprocessable",
            detail=_short(exc),
        ) from exc
    finally:
        im.close()


def _stored_box(
    box: tuple[int, int, int, int], orientation: int, stored_w: int, stored_h: int
) -> tuple[int, int, int, int]:
    """The box of the stored (unrotated) image that ``_orient`` turns into ``box`` as displayed.

    Each displayed corner is mapped back through the inverse of the orientation's transposition;
    the result is the rectangle spanned by the two mapped corners.
    """
    inverse = {
        1: lambda x, y: (x, y),
        2: lambda x, y: (stored_w - x, y),
        3: lambda x, y: (stored_w - x, stored_h - y),
        4: lambda x, y: (x, stored_h - y),
        5: lambda x, y: (y, x),
        6: lambda x, y: (y, stored_h - x),
        7: lambda x, y: (stored_w - y, stored_h - x),
        8: lambda x, y: (stored_w - y, x),
    }[orientation]
    (ax, ay), (bx, by) = inverse(box[0], box[1]), inverse(box[2], box[3])
    return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)


# --- opening -------------------------------------------------------------------------------------


def _read_all(data: bytes | BinaryIO) -> bytes:
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    try:
        raw = data.read()
    except Exception as exc:  # a closed or broken stream is the caller's upload failing
        raise InvalidImage(
            f"the file could not be read ({_short(exc)})", "unreadable_file", detail=_short(exc)
        ) from exc
    if not isinstance(raw, bytes | bytearray):
        raise InvalidImage(
            "the file could not be read (not a binary stream)",
            "unreadable_file",
            detail="not a binary stream",
        )
    return bytes(raw)


def _ensure_plugins() -> None:
    """Load Pillow's plugins and, when installed, pillow-heif; once per process, on first use
    (not at import time), because registering an opener changes Pillow's global registry."""
    global _plugins_ready, _heif_available
    if _plugins_ready:
        return
    with _plugins_lock:
        if _plugins_ready:
            return
        Image.init()
        try:
            from pillow_heif import register_heif_opener
        except ImportError:
            log.info("pillow-heif is not installed: HEIC/HEIF uploads will be refused")
        else:
            register_heif_opener()
            _heif_available = "HEIF" in Image.OPEN
        _plugins_ready = True


def _sniff(raw: bytes) -> str:
    """Name the format from magic bytes; raise UnsupportedFormat for anything we do not accept."""
    if not raw:
        raise InvalidImage("the file is empty", "empty_file")
    head = raw[:64]
    if head[4:8] == b"ftyp":
        brands = {head[8:12]} | {
            raw[i : i + 4] for i in range(16, min(len(raw), _box_size(raw)) - 3, 4)
        }
        if brands & _AVIF_BRANDS and "AVIF" in Image.OPEN:
            return "AVIF"
        if brands & _HEIF_BRANDS:
            if _heif_available:
                return "HEIF"
            raise UnsupportedFormat(
                "unsupported format: HEIC (this server cannot read iPhone HEIC photos; "
                "export the photo as JPEG and upload it again)",
                "heic_unsupported",
            )
        if brands & _AVIF_BRANDS:
            raise UnsupportedFormat("unsupported format: AVIF", "unsupported_format", format="AVIF")
        if brands & {b"crx "}:
            raise UnsupportedFormat(
                "unsupported format: camera RAW (CR3)", "camera_raw", format="CR3"
            )
        raise UnsupportedFormat(
            "unsupported format: video or other MP4/QuickTime file", "video_container"
        )
    for fmt in SUPPORTED_FORMATS:
        entry = Image.OPEN.get(fmt)
        if fmt in ("AVIF", "HEIF") or entry is None or entry[1] is None:
            continue
        try:
            accepted = entry[1](head)
        except Exception:  # an accept() that chokes on short input means "not this format"
            accepted = False
        if accepted is True:
            if fmt == "TIFF" and head.startswith(b"II*\x00\x10\x00\x00\x00CR"):
                break  # Canon CR2 is a TIFF container around camera RAW data
            return fmt
    raise _foreign(raw)


def _box_size(raw: bytes) -> int:
    size = struct.unpack(">I", raw[:4])[0] if len(raw) >= 4 else 0
    return min(size, 256)


def _foreign_name(raw: bytes) -> str:
    for magic, name in _FOREIGN_MAGIC:
        if raw.startswith(magic):
            return name
    text = raw[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "HTML"
    if text.startswith((b"<svg", b"<?xml")) and b"<svg" in text:
        return "SVG"
    if text.startswith(b"<?xml"):
        return "XML"
    for fmt, (_, accept) in Image.OPEN.items():
        if accept is None or fmt in SUPPORTED_FORMATS:
            continue
        try:
            if accept(raw[:64]) is True:
                return fmt
        except Exception:  # a plugin's accept() failing just means "not this one"
            continue
    sample = raw[:512]
    if all(32 <= b < 127 or b in b"\t\r\n" for b in sample):
        return "text file"
    return "not a recognised image file"


def _open(raw: bytes, max_pixels: int) -> tuple[ImageFile.ImageFile, str]:
    """Parse the header only and refuse by declared size before any pixel buffer exists.

    Why the plugin factory rather than ``Image.open``: ``Image.open`` applies Pillow's own global
    bomb limit (and warns above 89 MP); we want our configurable limit, a message with the
    declared dimensions, and no global state touched.
    """
    _ensure_plugins()
    fmt = _sniff(raw)
    factory, _accept = Image.OPEN[fmt]
    try:
        im = factory(io.BytesIO(raw), None)
    except Exception as exc:
        raise InvalidImage(
            f"the image is damaged or incomplete (unreadable {_label(fmt)} header)",
            "bad_header",
            format=_label(fmt),
        ) from exc
    fmt = im.format or fmt
    width, height = _declared_size(im)
    if width <= 0 or height <= 0:
        im.close()
        raise InvalidImage(
            "the image is damaged or incomplete (it declares no pixels)", "no_pixels"
        )
    if width * height > max_pixels:
        im.close()
        raise ImageTooLarge(
            f"image too large: {width}×{height} pixels, the limit is "
            f"{_megapixels(max_pixels)} megapixels",
            "image_too_large",
            width=width,
            height=height,
            limit=_megapixels(max_pixels),
        )
    if fmt == "TIFF":
        _refuse_raw_tiff(im)
    return im, fmt


def _refuse_raw_tiff(im: ImageFile.ImageFile) -> None:
    """A DNG/NEF/ARW is a TIFF whose first page is a tiny preview: refuse rather than publish it."""
    tags = getattr(im, "tag_v2", {})
    if _DNG_VERSION_TAG in tags:
        im.close()
        raise UnsupportedFormat("unsupported format: camera RAW (DNG)", "camera_raw", format="DNG")
    subfile = tags.get(_NEW_SUBFILE_TYPE_TAG, 0)
    if isinstance(subfile, int) and subfile & 1:
        im.close()
        raise UnsupportedFormat(
            "unsupported format: camera RAW or preview-only TIFF", "raw_or_preview_tiff"
        )


_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def _check_jpeg_structure(raw: bytes, fmt: str) -> None:
    """Walk JPEG segments from SOI to the first SOS, then require an EOI after the scan data.

    An ``FF D9`` pair cannot occur inside entropy-coded data (``FF`` is always stuffed there), so
    finding one after the first scan proves the upload was not cut short; the EXIF thumbnail's own
    EOI sits before the first SOS and cannot fool this.
    """
    damaged = _damaged("truncated", fmt)
    pos, total = 2, len(raw)
    while True:
        while pos < total and raw[pos] == 0xFF and pos + 1 < total and raw[pos + 1] == 0xFF:
            pos += 1  # fill bytes before a marker are allowed
        if pos + 4 > total:
            raise damaged
        if raw[pos] != 0xFF:
            raise _damaged("corrupt", fmt)
        marker = raw[pos + 1]
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        if marker == 0xD9:
            raise damaged  # end of image before any pixel data
        length = struct.unpack(">H", raw[pos + 2 : pos + 4])[0]
        if length < 2 or pos + 2 + length > total:
            raise damaged
        pos += 2 + length
        if marker == 0xDA:
            break
    # Searched from the end: the EOI is normally the last two bytes, whereas a forward search
    # stops at every stuffed FF in the scan data (12 ms for a 24 MP photo).
    if raw.rfind(b"\xff\xd9", pos) < 0:
        raise damaged


def _declared_size(im: Image.Image) -> tuple[int, int]:
    return int(im.size[0]), int(im.size[1])


def _decode(im: ImageFile.ImageFile, fmt: str) -> None:
    """Decode the first frame only; any decoder exception becomes InvalidImage."""
    try:
        im.load()
    except (MemoryError, Image.DecompressionBombError) as exc:
        raise ImageTooLarge(
            "the image needs more memory than a worker may use", "image_memory"
        ) from exc
    except Exception as exc:
        log.info("decode failed (%s): %r", fmt, exc)
        message = str(exc).lower()
        how = "truncated" if "truncated" in message or isinstance(exc, EOFError) else "corrupt"
        raise _damaged(how, fmt) from exc


# --- orientation ---------------------------------------------------------------------------------


def _orientation(im: ImageFile.ImageFile, raw: bytes, fmt: str) -> int:
    """EXIF orientation, else XMP ``tiff:Orientation``; anything outside 1-8 counts as 1.

    PNG is read from its chunks directly because Pillow only sees an ``eXIf`` chunk placed after
    the pixel data once the whole image has been decoded.
    """
    try:
        if fmt == "PNG":
            exif_bytes, xmp = _png_walk(raw, verify=False)
            value = None
            if exif_bytes:
                exif = Image.Exif()
                exif.load(exif_bytes)  # Exif.load accepts it with or without the "Exif" prefix
                value = exif.get(_ORIENTATION_TAG)
        else:
            exif = _read_exif(im)
            value = exif.get(_ORIENTATION_TAG) if exif is not None else None
            xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp") or b""
            if isinstance(xmp, str):
                xmp = xmp.encode("utf-8", "replace")
        if value is None and xmp:
            match = _XMP_ORIENTATION.search(xmp)
            value = int(match.group(1)) if match else None
    except Exception:  # broken metadata must not reject a photo whose pixels are fine
        log.info("unreadable orientation metadata (%s); treating as upright", fmt, exc_info=True)
        return 1
    if isinstance(value, tuple) and value:
        value = value[0]
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _read_exif(im: ImageFile.ImageFile) -> Image.Exif | None:
    try:
        return im.getexif()
    except Exception:
        log.info("unreadable EXIF block; ignoring it", exc_info=True)
        return None


_TRANSPOSE = {
    2: [Image.Transpose.FLIP_LEFT_RIGHT],
    3: [Image.Transpose.ROTATE_180],
    4: [Image.Transpose.FLIP_TOP_BOTTOM],
    5: [Image.Transpose.TRANSPOSE],
    6: [Image.Transpose.ROTATE_270],
    7: [Image.Transpose.TRANSVERSE],
    8: [Image.Transpose.ROTATE_90],
}


def _orient(im: Image.Image, orientation: int) -> Image.Image:
    for op in _TRANSPOSE.get(orientation, []):
        im = im.transpose(op)
    return im


def _png_walk(raw: bytes, *, verify: bool) -> tuple[bytes | None, bytes]:
    """Walk PNG chunks: with ``verify``, check every CRC and that IEND is reached (a truncated
    upload fails here in milliseconds); always return the EXIF and XMP payloads wherever they are.
    """
    pos, exif, xmp = 8, None, b""
    total = len(raw)
    while True:
        if pos + 8 > total:
            if verify:
                raise _damaged("truncated", "PNG")
            break
        length, ctype = struct.unpack(">I4s", raw[pos : pos + 8])
        end = pos + 8 + length + 4
        if end > total:
            if verify:
                raise _damaged("truncated", "PNG")
            break
        body = raw[pos + 8 : pos + 8 + length]
        if verify:
            crc = struct.unpack(">I", raw[end - 4 : end])[0]
            if zlib.crc32(ctype + body) & 0xFFFFFFFF != crc:
                raise _damaged("corrupt", "PNG")
        if ctype == b"eXIf":
            exif = body
        elif ctype == b"iTXt" and body.startswith(b"XML:com.adobe.xmp\0"):
            xmp = _itxt_text(body)
        elif ctype in (b"zTXt", b"tEXt") and body.startswith(b"Raw profile type exif\0"):
            exif = exif or _raw_profile_exif(body, ctype)
        elif ctype == b"IEND":
            break
        pos = end
    return exif, xmp


def _itxt_text(body: bytes) -> bytes:
    """The text of an iTXt chunk: keyword, flag, method, language, translated keyword, text."""
    _keyword, rest = body.split(b"\0", 1)
    compressed = rest[:1] == b"\1"
    _language, _translated, text = rest[2:].split(b"\0", 2)
    return zlib.decompressobj().decompress(text, 1 << 22) if compressed else text


def _raw_profile_exif(body: bytes, ctype: bytes) -> bytes | None:
    """ImageMagick's 'Raw profile type exif' text chunk: hex digits after a 3-line header."""
    payload = body.split(b"\0", 1)[1]
    if ctype == b"zTXt":
        payload = zlib.decompressobj().decompress(payload[1:], 1 << 20)
    lines = payload.decode("latin-1").split("\n")
    return bytes.fromhex("".join(lines[3:])) if len(lines) > 3 else None


# --- colour --------------------------------------------------------------------------------------


def _normalise_mode(im: Image.Image) -> Image.Image:
    """Bring every decoded mode to one that resamples correctly: RGB, RGBA, L, LA or CMYK.

    Why: Pillow resamples palette and 1-bit images with nearest-neighbour only, and converting
    16-bit greyscale straight to 8-bit clips everything above 255 to white.
    """
    mode = im.mode
    if mode in ("RGB", "RGBA", "L", "LA", "CMYK"):
        if mode in ("RGB", "L") and "transparency" in im.info:
            return im.convert("RGBA" if mode == "RGB" else "LA")
        return im
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in im.info
        return im.convert("RGBA" if has_alpha else "RGB")
    if mode == "1":
        return im.convert("L")
    if mode.startswith("I;16") or mode == "I":
        wide = im if mode == "I" else im.convert("I")
        return wide.point(lambda v: v * (1 / 257)).convert("L")
    if mode == "F":
        return im.convert("L")
    if mode in ("RGBa", "La"):
        return im.convert("RGBA" if mode == "RGBa" else "LA")
    if mode == "LAB":
        lab = ImageCms.createProfile("LAB")
        return ImageCms.profileToProfile(im, lab, _srgb_profile(), outputMode="RGB")
    return im.convert("RGB")  # YCbCr, HSV, RGBX


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """Flatten transparency on the light background, then apply the embedded ICC profile.

    A broken or mismatched profile is ignored (logged) rather than rejecting the photograph.
    """
    if im.mode in ("RGBA", "LA"):
        flat = Image.new(im.mode[:-1], im.size, BACKGROUND if im.mode == "RGBA" else BACKGROUND[0])
        flat.paste(im.convert(im.mode[:-1]), mask=im.getchannel("A"))
        im = flat
    if icc:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            space = src.profile.xcolor_space.strip()
            if space == "RGB" and im.mode == "RGB" and _is_srgb(src):
                return im  # already sRGB: the transform would cost ~30 ns/pixel for nothing
            if {"RGB": "RGB", "L": "GRAY", "CMYK": "CMYK"}.get(im.mode) == space:
                return ImageCms.profileToProfile(im, src, _srgb_profile(), outputMode="RGB")
            log.info("ICC profile colour space %s does not match mode %s; ignored", space, im.mode)
        except Exception:
            log.info("unusable ICC profile; converting without it", exc_info=True)
    return im if im.mode == "RGB" else im.convert("RGB")


_srgb: ImageCms.ImageCmsProfile | None = None


def _is_srgb(profile: ImageCms.ImageCmsProfile) -> bool:
    """True for the standard sRGB profiles cameras and editors embed ("sRGB IEC61966-2.1",
    "sRGB built-in", …), judged by the description: a profile that calls itself sRGB while
    describing another space is not worth 50 ms on every honest photo."""
    description = (profile.profile.profile_description or "").strip()
    return description.startswith("sRGB")


def _srgb_profile() -> ImageCms.ImageCmsProfile:
    global _srgb
    if _srgb is None:
        _srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    return _srgb


# --- small helpers -------------------------------------------------------------------------------


def _scaled(length: int, scale: float) -> int:
    return max(1, round(length * scale))


def _megapixels(pixels: int) -> str:
    value = pixels / 1_000_000
    return f"{value:g}"


def _damaged(how: str, fmt: str) -> InvalidImage:
    """A damaged image: ``how`` is ``truncated`` (cut short) or ``corrupt`` (wrong data)."""
    name = _label(fmt)
    return InvalidImage(f"the image is damaged or incomplete ({how} {name} data)", how, format=name)


def _foreign(raw: bytes) -> UnsupportedFormat:
    """The refusal of a file that is not an image we accept, naming what it is when known."""
    name = _foreign_name(raw)
    reason = f"unsupported format: {name}"
    if name == "text file":
        return UnsupportedFormat(reason, "text_file")
    if name == "not a recognised image file":
        return UnsupportedFormat(reason, "not_an_image")
    if name.startswith("camera RAW ("):
        return UnsupportedFormat(reason, "camera_raw", format=name[len("camera RAW (") : -1])
    return UnsupportedFormat(reason, "unsupported_format", format=name)


def _label(fmt: str) -> str:
    return {"HEIF": "HEIC", "MPO": "JPEG"}.get(fmt, fmt)


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "…"
