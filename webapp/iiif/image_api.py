"""IIIF Image API 3.0: parse and validate a request's path, and describe an image (``info.json``).

Pure functions on strings and numbers: no Flask, no storage, no Pillow. A request is parsed once
into an :class:`ImageRequest` holding resolved pixel values (the region in full-image pixels, the
output size), which is what the renderer needs and what names the cached result (its
:attr:`ImageRequest.canonical` path, as section 4.7 of the specification defines it). Anything
malformed or out of bounds raises :class:`ImageRequestError` with a message for people, answered
as 400; nothing here may let a huge output through (``Limits`` are checked before any pixel
exists).

Compliance: level 2 (regions by pixels and percent, ``square``; sizes ``max``, ``w,``, ``,h``,
``w,h``, ``!w,h``, ``pct:n``; rotation by 90°; ``default`` quality; jpg and png) plus ``webp``,
``color`` and ``gray`` qualities, mirroring and upscaling (``^``) within the limits.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

IMAGE_CONTEXT = "http://iiif.io/api/image/3/context.json"
PROTOCOL = "http://iiif.io/api/image"
PROFILE = "level2"
PROFILE_URI = "http://iiif.io/api/image/3/level2.json"

#: Output formats: extension → media type. jpg and png are level 2's; webp is extra.
FORMATS = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
EXTRA_FORMATS = ["webp"]
#: ``default`` and ``color`` give the same picture here (every stored image is sRGB colour).
QUALITIES = ("default", "color", "gray")
EXTRA_QUALITIES = ["color", "gray"]
EXTRA_FEATURES = [
    "baseUriRedirect",
    "canonicalLinkHeader",
    "cors",
    "jsonldMediaType",
    "mirroring",
    "profileLinkHeader",
    "regionByPct",
    "regionByPx",
    "regionSquare",
    "rotationBy90s",
    "sizeByConfinedWh",
    "sizeByH",
    "sizeByPct",
    "sizeByW",
    "sizeByWh",
    "sizeUpscaling",
]

#: Side of the tiles viewers are told to ask for.
TILE_SIZE = 512

_INT = r"(?:0|[1-9][0-9]*)"
_DECIMAL = r"(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)"
_PIXELS = re.compile(rf"^({_INT}),({_INT}),({_INT}),({_INT})$")
_PERCENT = re.compile(rf"^pct:({_DECIMAL}),({_DECIMAL}),({_DECIMAL}),({_DECIMAL})$")
_SIZE_W = re.compile(rf"^({_INT}),$")
_SIZE_H = re.compile(rf"^,({_INT})$")
_SIZE_WH = re.compile(rf"^(!?)({_INT}),({_INT})$")
_SIZE_PCT = re.compile(rf"^pct:({_DECIMAL})$")
_ROTATION = re.compile(rf"^(!?)({_DECIMAL})$")
_QUALITY_FORMAT = re.compile(r"^([a-z]+)\.([a-z0-9]+)$")


class ImageRequestError(Exception):
    """A request the Image API must refuse; ``message`` says what was wrong, for people."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Limits:
    """The largest output served (``maxWidth``, ``maxHeight``, ``maxArea`` of ``info.json``)."""

    max_width: int
    max_height: int
    max_area: int

    def fits(self, width: int, height: int) -> bool:
        return (
            width <= self.max_width
            and height <= self.max_height
            and width * height <= (self.max_area)
        )

    def largest_scale(self, width: int, height: int) -> float:
        """The largest factor by which a ``width`` × ``height`` picture can be served."""
        return min(
            self.max_width / width,
            self.max_height / height,
            math.sqrt(self.max_area / (width * height)),
        )


@dataclass(frozen=True)
class Region:
    """A rectangle of the full image in its pixels; ``square`` when it came from ``square``."""

    x: int
    y: int
    width: int
    height: int
    full: bool = False
    square: bool = False

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.x + self.width, self.y + self.height)


@dataclass(frozen=True)
class ImageRequest:
    """A validated request: what to cut, how large to make it (before rotation), and how."""

    region: Region
    width: int
    height: int
    rotation: int = 0
    mirror: bool = False
    quality: str = "default"
    format: str = "jpg"

    @property
    def media_type(self) -> str:
        return FORMATS[self.format]

    @property
    def upscaled(self) -> bool:
        return self.width > self.region.width or self.height > self.region.height

    @property
    def scale(self) -> float:
        """Output pixels per full-image pixel, on the side that needs the most detail."""
        return max(self.width / self.region.width, self.height / self.region.height)

    @property
    def canonical(self) -> str:
        """The canonical ``region/size/rotation/quality.format`` path (Image API 3.0, 4.7)."""
        r = self.region
        region = "full" if r.full else f"{r.x},{r.y},{r.width},{r.height}"
        if (self.width, self.height) == (r.width, r.height):
            size = "max"
        else:
            size = f"{'^' if self.upscaled else ''}{self.width},{self.height}"
        rotation = f"{'!' if self.mirror else ''}{self.rotation}"
        return f"{region}/{size}/{rotation}/{self.quality}.{self.format}"


def parse_region(text: str, width: int, height: int) -> Region:
    """``full``, ``square``, ``x,y,w,h`` or ``pct:x,y,w,h``, cut to the image's extent."""
    if text == "full":
        return Region(0, 0, width, height, full=True)
    if text == "square":
        side = min(width, height)
        x, y = (width - side) // 2, (height - side) // 2
        return Region(x, y, side, side, full=width == height, square=True)
    if match := _PIXELS.match(text):
        x, y, w, h = (int(v) for v in match.groups())
    elif match := _PERCENT.match(text):
        px, py, pw, ph = (float(v) for v in match.groups())
        if px > 100 or py > 100:
            raise ImageRequestError(f"region {text!r}: x and y are percentages, at most 100")
        x, y = round(px * width / 100), round(py * height / 100)
        w, h = round(pw * width / 100), round(ph * height / 100)
        if (pw > 0 and w == 0) or (ph > 0 and h == 0):
            raise ImageRequestError(f"region {text!r} is smaller than one pixel of this image")
    else:
        raise ImageRequestError(
            f"region {text!r} is not one of full, square, x,y,w,h (whole pixels) "
            "or pct:x,y,w,h (percentages)"
        )
    if w == 0 or h == 0:
        raise ImageRequestError(f"region {text!r} has no width or no height")
    if x >= width or y >= height:
        raise ImageRequestError(
            f"region {text!r} starts outside the image, which is {width}×{height} pixels"
        )
    w, h = min(w, width - x), min(h, height - y)
    return Region(x, y, w, h, full=(x, y, w, h) == (0, 0, width, height))


def parse_size(text: str, region: Region, limits: Limits) -> tuple[int, int]:
    """The output size for ``text`` (``max``, ``w,``, ``,h``, ``w,h``, ``!w,h``, ``pct:n``, each
    with an optional ``^`` to allow upscaling); refused when it needs upscaling without ``^`` or
    exceeds the limits (which ``info.json`` always states, so ``^max`` fills them). ``!w,h``
    without ``^`` is never refused for being large: the spec makes it "as large as possible but
    not larger than the extracted region, w or h", so it stops at the region's size."""
    upscale = text.startswith("^")
    spec = text[1:] if upscale else text
    rw, rh = region.width, region.height
    if spec == "max":
        scale = limits.largest_scale(rw, rh)
        if not upscale:
            scale = min(scale, 1.0)
        if scale == 1.0:
            return rw, rh
        return _at_least_one(rw * scale), _at_least_one(rh * scale)
    if match := _SIZE_W.match(spec):
        w = int(match[1])
        h = round(rh * w / rw)
    elif match := _SIZE_H.match(spec):
        h = int(match[1])
        w = round(rw * h / rh)
    elif match := _SIZE_PCT.match(spec):
        pct = float(match[1])
        if pct == 0:
            raise ImageRequestError(f"size {text!r}: the percentage must be above 0")
        if pct > 100 and not upscale:
            raise ImageRequestError(
                f"size {text!r} is larger than the region; ask with ^ (^pct:n) to enlarge"
            )
        w, h = round(rw * pct / 100), round(rh * pct / 100)
    elif match := _SIZE_WH.match(spec):
        confined, w, h = match[1] == "!", int(match[2]), int(match[3])
        if confined:
            if w == 0 or h == 0:
                raise ImageRequestError(f"size {text!r} has no width or no height")
            scale = min(w / rw, h / rh, limits.largest_scale(rw, rh))
            if not upscale:
                scale = min(scale, 1.0)
            w, h = _at_least_one(rw * scale), _at_least_one(rh * scale)
    else:
        raise ImageRequestError(
            f"size {text!r} is not one of max, w, ,h w,h !w,h or pct:n (with ^ to enlarge)"
        )
    if w < 1 or h < 1:
        raise ImageRequestError(f"size {text!r} gives an image smaller than one pixel")
    if not upscale and (w > rw or h > rh):
        raise ImageRequestError(
            f"size {text!r} is larger than the region ({rw}×{rh}); ask with ^ to enlarge"
        )
    if not limits.fits(w, h):
        raise ImageRequestError(
            f"size {text!r} gives {w}×{h} pixels; at most {limits.max_width}×"
            f"{limits.max_height} and {limits.max_area} pixels in all are served"
        )
    return w, h


def parse_rotation(text: str) -> tuple[int, bool]:
    """``n`` or ``!n`` (mirrored first); only multiples of 90° are offered."""
    match = _ROTATION.match(text)
    if not match:
        raise ImageRequestError(
            f"rotation {text!r} is not a number of degrees (0-360, with ! to mirror)"
        )
    degrees = float(match[2])
    if degrees > 360:
        raise ImageRequestError(f"rotation {text!r}: degrees go from 0 to 360")
    if degrees % 90:
        raise ImageRequestError(f"rotation {text!r}: only 0, 90, 180 and 270 are offered")
    return int(degrees) % 360, match[1] == "!"


def parse_quality_format(text: str) -> tuple[str, str]:
    """``quality.format``: default, color or gray; jpg, png or webp."""
    match = _QUALITY_FORMAT.match(text)
    if not match:
        raise ImageRequestError(f"{text!r} is not quality.format (for example default.jpg)")
    quality, fmt = match.groups()
    if quality not in QUALITIES:
        raise ImageRequestError(
            f"quality {quality!r} is not offered: use one of {', '.join(QUALITIES)}"
        )
    if fmt not in FORMATS:
        raise ImageRequestError(f"format {fmt!r} is not offered: use one of {', '.join(FORMATS)}")
    return quality, fmt


def parse_image_request(
    region: str,
    size: str,
    rotation: str,
    quality_format: str,
    *,
    width: int,
    height: int,
    limits: Limits,
) -> ImageRequest:
    """Validate the four path parameters of a request on a ``width`` × ``height`` image."""
    parsed_region = parse_region(region, width, height)
    out_w, out_h = parse_size(size, parsed_region, limits)
    degrees, mirror = parse_rotation(rotation)
    quality, fmt = parse_quality_format(quality_format)
    return ImageRequest(parsed_region, out_w, out_h, degrees, mirror, quality, fmt)


def scale_factors(width: int, height: int, smallest: int = 1) -> list[int]:
    """Powers of two from ``smallest`` until the whole image fits in one tile."""
    factors, factor = [], 1
    while True:
        if factor >= smallest:
            factors.append(factor)
        if math.ceil(max(width, height) / factor) <= TILE_SIZE:
            return factors or [smallest]
        factor *= 2


def listed_sizes(
    width: int, height: int, *, limits: Limits, sizes: Iterable[tuple[int, int]]
) -> list[tuple[int, int]]:
    """The sizes ``info.json`` lists for a ``width`` × ``height`` image, smallest first: the
    ready-made ``sizes`` that fit the limits and the image."""
    return sorted(
        {(w, h) for w, h in sizes if limits.fits(w, h) and w <= width and h <= height},
        key=lambda s: s[0] * s[1],
    )


def info_document(
    image_id: str,
    width: int,
    height: int,
    *,
    limits: Limits,
    sizes: Iterable[tuple[int, int]],
    smallest_scale_factor: int = 1,
    rights: str | None = None,
) -> dict[str, Any]:
    """The ``info.json`` of one image: ``sizes`` are the ready-made derivatives' sizes (served
    without any decoding), tiles start at ``smallest_scale_factor`` (the deepest zoom that can be
    cut on demand within the memory budget)."""
    listed = listed_sizes(width, height, limits=limits, sizes=sizes)
    document: dict[str, Any] = {
        "@context": IMAGE_CONTEXT,
        "id": image_id,
        "type": "ImageService3",
        "protocol": PROTOCOL,
        "profile": PROFILE,
        "width": width,
        "height": height,
    }
    # Always stated: ``sizeUpscaling`` lets any image be asked larger than the limits, and a
    # client can only stay within them if it knows them (``^max`` then means "fill them").
    document.update(maxWidth=limits.max_width, maxHeight=limits.max_height, maxArea=limits.max_area)
    document["sizes"] = [{"width": w, "height": h} for w, h in listed]
    document["tiles"] = [
        {
            "width": TILE_SIZE,
            "height": TILE_SIZE,
            "scaleFactors": scale_factors(width, height, smallest_scale_factor),
        }
    ]
    document["extraFormats"] = EXTRA_FORMATS
    document["extraQualities"] = EXTRA_QUALITIES
    document["extraFeatures"] = EXTRA_FEATURES
    if rights:
        document["rights"] = rights
    return document


def _at_least_one(value: float) -> int:
    return max(1, round(value))
