"""Make the bytes of a validated IIIF image request from what is stored, doing as little as we can.

The worker already made web derivatives of every image (``large`` and ``download`` at 1600 px,
``medium`` 800, ``thumb`` 256, ``square`` 256 — all upright, sRGB, from one decode). Almost every
request a viewer makes for its first screen is at most that detailed, so :func:`plan` picks, in
this order: the stored bytes themselves when the request *is* a derivative (no decoding at all);
else the smallest derivative detailed enough for the region at the requested scale (a crop and
resize of a ≤ 1600 px picture); only deep-zoom tiles, finer than any derivative, are cut from the
original (``webapp.media.imaging.cut_region``: scaled on load, bounded memory, and at most
:data:`ORIGINAL_DECODES` at a time per process). Bytes in, bytes out: no Flask, no storage, no
database; what is fetched and cached is the service's business.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from PIL import Image

from webapp.iiif.image_api import TILE_SIZE, ImageRequest, Region
from webapp.media.imaging import RESAMPLE, cut_region

#: Largest number of decoded pixels one request may hold (a 24 MP JPEG at full resolution fits;
#: a 100 MP scan is cut at half resolution or less, where JPEG scaling on load makes it fit).
MAX_DECODED_PIXELS = 50_000_000
#: Originals decoded at the same time by one process: bounds memory under a burst of deep tiles.
ORIGINAL_DECODES = 2
#: A derivative may be this much (in pixels of the output) less detailed than asked and still be
#: used: the rounding of its own size, never a visible loss.
TOLERANCE = 0.5

_ENCODE = {
    "jpg": ("JPEG", {"quality": 85}),
    "png": ("PNG", {"compress_level": 6}),
    "webp": ("WEBP", {"quality": 80, "method": 2}),
}
_original_decodes = threading.BoundedSemaphore(ORIGINAL_DECODES)


@dataclass(frozen=True)
class StoredDerivative:
    """A derivative as the media row records it."""

    name: str
    key: str
    mime: str
    width: int
    height: int

    @property
    def square(self) -> bool:
        return self.name == "square"

    @property
    def format(self) -> str:
        return {"image/jpeg": "jpg", "image/webp": "webp", "image/png": "png"}.get(self.mime, "")


@dataclass(frozen=True)
class Plan:
    """Where a request's pixels come from: a derivative as it is (``passthrough``), a derivative
    to cut and resize, or (``source`` is ``None``) the original."""

    source: StoredDerivative | None
    passthrough: bool = False


def stored_derivatives(recorded: Mapping[str, Mapping[str, Any]]) -> list[StoredDerivative]:
    """The media row's ``derivatives`` column as values (entries missing a field are skipped)."""
    found = []
    for name, entry in (recorded or {}).items():
        try:
            found.append(
                StoredDerivative(
                    name, entry["key"], entry["mime"], int(entry["width"]), int(entry["height"])
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return found


def derivative_sizes(derivatives: list[StoredDerivative]) -> list[tuple[int, int]]:
    """The full-image sizes served straight from storage (``sizes`` of ``info.json``)."""
    return [(d.width, d.height) for d in derivatives if not d.square]


def plan(
    request: ImageRequest, width: int, height: int, derivatives: list[StoredDerivative]
) -> Plan:
    """Choose the cheapest source for ``request`` on a ``width`` × ``height`` image.

    A derivative as large as the image itself is only ever passed through: cutting it would be
    no cheaper than cutting the original (both are at most 1600 px) and would compress its pixels
    a second time.
    """
    region = request.region
    plain = request.rotation == 0 and not request.mirror and request.quality != "gray"
    for d in derivatives:
        same_picture = (region.full and not d.square) or (region.square and d.square)
        exact = (d.width, d.height) == (request.width, request.height)
        if plain and same_picture and exact and d.format == request.format:
            return Plan(d, passthrough=True)
    covering = []
    for d in derivatives:
        if d.square:
            if not region.square:
                continue
            sx = sy = d.width / region.width
        else:
            sx, sy = d.width / width, d.height / height
        if sx >= 1.0 and sy >= 1.0:
            continue
        if (
            request.width <= region.width * sx + TOLERANCE
            and request.height <= region.height * sy + TOLERANCE
        ):
            covering.append(d)
    if not covering:
        return Plan(None)
    return Plan(min(covering, key=lambda d: (d.width * d.height, d.format != request.format)))


def render_from_derivative(
    data: bytes, derivative: StoredDerivative, request: ImageRequest, width: int, height: int
) -> bytes:
    """Cut and resize a derivative's picture (decoded here: ≤ 1600 px, ours, already upright)."""
    picture = _open_derivative(data, derivative, request.scale, width, height)
    return encode(_cut_derivative(picture, derivative, request, width, height), request)


def render_level_from_derivative(
    data: bytes,
    derivative: StoredDerivative,
    tiles: list[ImageRequest],
    width: int,
    height: int,
) -> Iterator[tuple[ImageRequest, bytes]]:
    """Every tile of one zoom level from one decode of a derivative (see
    :func:`render_level_from_original`: a viewer asks for all of them together)."""
    picture = _open_derivative(data, derivative, max(t.scale for t in tiles), width, height)
    for tile in tiles:
        yield tile, encode(_cut_derivative(picture, derivative, tile, width, height), tile)


def _open_derivative(
    data: bytes, derivative: StoredDerivative, scale: float, width: int, height: int
) -> Image.Image:
    """Decode a derivative as RGB, scaled on load (JPEG) when ``scale`` (output pixels per
    full-image pixel) needs less than half of it."""
    with Image.open(io.BytesIO(data)) as picture:
        if picture.format == "JPEG" and not derivative.square:
            needed = scale * max(width / picture.width, height / picture.height)
            if needed < 0.5:
                picture.draft("RGB", (math.ceil(picture.width * needed),
                                      math.ceil(picture.height * needed)))  # fmt: skip
        picture.load()
        return picture if picture.mode == "RGB" else picture.convert("RGB")


def _cut_derivative(
    picture: Image.Image,
    derivative: StoredDerivative,
    request: ImageRequest,
    width: int,
    height: int,
) -> Image.Image:
    region = request.region
    if derivative.square:
        box = (0.0, 0.0, float(picture.width), float(picture.height))
    else:
        sx, sy = picture.width / width, picture.height / height
        box = (region.x * sx, region.y * sy, (region.x + region.width) * sx,
               (region.y + region.height) * sy)  # fmt: skip
    size = (request.width, request.height)
    if box == (0.0, 0.0, float(picture.width), float(picture.height)) and size == picture.size:
        return picture
    return picture.resize(size, RESAMPLE, box=box, reducing_gap=2.0)


def render_from_original(
    data: bytes, request: ImageRequest, *, max_pixels: int, max_decoded_pixels: int
) -> bytes:
    """Cut the request's region out of the original (deep zoom), a few at a time per process."""
    with _original_decodes:
        picture = cut_region(
            data,
            request.region.box,
            (request.width, request.height),
            max_pixels=max_pixels,
            max_decoded_pixels=max_decoded_pixels,
        )
    return encode(picture, request)


def grid_factor(request: ImageRequest, width: int, height: int) -> int | None:
    """The scale factor of the ``info.json`` tile grid of which ``request`` is one tile (as
    OpenSeadragon and Mirador ask for them), or ``None`` for any other request."""
    region = request.region
    factor = 1
    while TILE_SIZE * factor < max(region.width, region.height):
        factor *= 2
    side = TILE_SIZE * factor
    aligned = region.x % side == 0 and region.y % side == 0
    whole = (region.width, region.height) == (min(side, width - region.x),
                                              min(side, height - region.y))  # fmt: skip
    scaled = (request.width, request.height) == (math.ceil(region.width / factor),
                                                 math.ceil(region.height / factor))  # fmt: skip
    return factor if aligned and whole and scaled else None


def grid_tiles(factor: int, width: int, height: int, like: ImageRequest) -> list[ImageRequest]:
    """Every tile of the grid at ``factor``, with ``like``'s rotation, quality and format."""
    side = TILE_SIZE * factor
    tiles = []
    for y in range(0, height, side):
        for x in range(0, width, side):
            w, h = min(side, width - x), min(side, height - y)
            region = Region(x, y, w, h, full=(w, h) == (width, height))
            tiles.append(
                replace(
                    like, region=region, width=math.ceil(w / factor), height=math.ceil(h / factor)
                )  # fmt: skip
            )
    return tiles


def render_level_from_original(
    data: bytes,
    factor: int,
    tiles: list[ImageRequest],
    width: int,
    height: int,
    *,
    max_pixels: int,
    max_decoded_pixels: int,
) -> list[tuple[ImageRequest, bytes]]:
    """Decode the original once at ``1/factor`` and cut every tile of that level from it.

    Why: a deep tile costs the decode of the whole original (JPEG cannot decode a part), so the
    viewport's six to twelve tiles would decode it six to twelve times. Cutting the whole level
    from one decode costs about two single tiles, and every later pan at that zoom is a cache hit.
    The decoded level stays in memory until its last tile is encoded, so the whole build counts
    as one of the :data:`ORIGINAL_DECODES` a process may run at a time.
    """
    level = (math.ceil(width / factor), math.ceil(height / factor))
    made = []
    with _original_decodes:
        picture = cut_region(
            data, (0, 0, width, height), level,
            max_pixels=max_pixels, max_decoded_pixels=max_decoded_pixels,
        )  # fmt: skip
        for tile in tiles:
            r = tile.region
            box = (r.x / factor, r.y / factor, (r.x + r.width) / factor,
                   (r.y + r.height) / factor)  # fmt: skip
            size = (tile.width, tile.height)
            if all(v == int(v) for v in box) and size == (box[2] - box[0], box[3] - box[1]):
                piece = picture.crop(tuple(int(v) for v in box))
            else:
                piece = picture.resize(size, RESAMPLE, box=box)
            made.append((tile, encode(piece, tile)))
    return made


def encode(picture: Image.Image, request: ImageRequest) -> bytes:
    """Mirror, rotate (clockwise, as IIIF counts), change quality, encode; no metadata."""
    if request.mirror:
        picture = picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if request.rotation:
        turn = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180,
                270: Image.Transpose.ROTATE_90}[request.rotation]  # fmt: skip
        picture = picture.transpose(turn)
    if request.quality == "gray":
        picture = picture.convert("L")
    picture.info = {}
    fmt, options = _ENCODE[request.format]
    out = io.BytesIO()
    picture.save(out, fmt, **options)
    return out.getvalue()


def smallest_scale_factor(width: int, height: int, jpeg: bool, max_decoded_pixels: int) -> int:
    """The deepest zoom (power-of-two reduction) that can be cut from the original within the
    decode budget: JPEG scales on load by up to 8, other formats are decoded whole."""
    factor = 1
    while width * height / (factor * factor) > max_decoded_pixels:
        if not jpeg or factor >= 8:
            return 0  # never: only what the derivatives hold is served
        factor *= 2
    return factor
