"""Many photos derived at once in one process (the web app's threads, a threaded worker) each
get exactly their own derivatives: no shared state mixes pictures up."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image, ImageDraw

from webapp.media.imaging import build_derivatives, inspect_image

from .conftest import by_name, decode, encode


def numbered_picture(n: int) -> Image.Image:
    """A picture whose colours encode ``n``: the background and a bar at a position set by n."""
    background = ((n * 37) % 256, (n * 91) % 256, (n * 53) % 256)
    im = Image.new("RGB", (160 + n % 7 * 8, 120), background)
    x = 10 + (n % 10) * 14
    ImageDraw.Draw(im).rectangle((x, 20, x + 10, 100), fill=(255 - (n * 37) % 256, 0, 0))
    return im


@pytest.mark.slow
def test_two_hundred_photos_in_eight_threads_each_get_their_own_derivatives():
    pictures = {n: numbered_picture(n) for n in range(200)}
    # Mix formats so different decoders run side by side; include the same photo twice.
    blobs = [(n, encode(im, ("PNG", "JPEG", "WEBP", "GIF")[n % 4], **(
        {"quality": 95} if n % 4 in (1, 2) else {}))) for n, im in pictures.items()]  # fmt: skip
    blobs.append((7, blobs[7][1]))

    def derive(item):
        n, data = item
        return n, inspect_image(data), by_name(build_derivatives(data))

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(derive, blobs))
    assert len(results) == 201
    for n, facts, outputs in results:
        expected = pictures[n]
        assert (facts.width, facts.height) == expected.size
        out = decode(outputs["medium.webp"].data).convert("RGB")
        assert out.size == expected.size
        for point in ((3, 3), (10 + (n % 10) * 14 + 5, 60)):
            got, want = out.getpixel(point), expected.getpixel(point)
            tolerance = 40 if n % 4 == 3 else 16  # GIF palettes are coarser
            assert max(abs(a - b) for a, b in zip(got, want, strict=True)) < tolerance, (n, point)
