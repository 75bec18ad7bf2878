"""The derivative set: sizes people see, never enlarged, square crops from the centre, the same
bytes every time (jobs are re-run safely), and fast and small enough for a 24 MP phone photo."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap

import pytest
from PIL import Image, ImageDraw, ImageFilter

from webapp.media.imaging import (
    DEFAULT_SPECS,
    Derivative,
    DerivativeSpec,
    build_derivatives,
    inspect_image,
)

from .conftest import by_name, decode, encode, mean_difference, upright


def sizes(derivatives: list[Derivative]) -> dict[str, tuple[int, int]]:
    out = {}
    for d in derivatives:
        decoded = decode(d.data)
        assert decoded.size == (d.width, d.height), "declared size differs from the pixels"
        assert decoded.format == {"webp": "WEBP", "jpg": "JPEG"}[d.ext]
        assert d.mime == {"webp": "image/webp", "jpg": "image/jpeg"}[d.ext]
        out[f"{d.name}.{d.ext}"] = decoded.size
    return out


def test_default_set_for_a_large_landscape_photo():
    data = encode(upright(2400, 1600), "JPEG", quality=90)
    assert sizes(build_derivatives(data)) == {
        "large.webp": (1600, 1067),
        "download.jpg": (1600, 1067),
        "medium.webp": (800, 533),
        "thumb.webp": (256, 171),
        "square.webp": (256, 256),
    }


def test_small_images_are_never_enlarged():
    data = encode(upright(300, 200), "PNG")
    assert sizes(build_derivatives(data)) == {
        "large.webp": (300, 200),
        "download.jpg": (300, 200),
        "medium.webp": (300, 200),
        "thumb.webp": (256, 171),
        "square.webp": (200, 200),
    }


def test_square_is_cut_from_the_centre_of_a_panorama():
    pano = Image.new("RGB", (4000, 600), (20, 20, 200))
    ImageDraw.Draw(pano).rectangle((1700, 0, 2300, 600), fill=(230, 30, 30))  # red middle
    square = decode(by_name(build_derivatives(encode(pano, "PNG")))["square.webp"].data)
    assert square.size == (256, 256)
    r, g, b = square.convert("RGB").getpixel((128, 128))
    assert r > 180 and b < 80
    assert square.convert("RGB").getpixel((2, 128))[0] > 180  # the crop is all red: centred


def test_large_derivative_looks_like_the_original():
    """Scale-on-load and stepped resampling must not visibly change a detailed picture."""
    detailed = upright(3000, 2000)
    ImageDraw.Draw(detailed).text((1400, 900), "Lisboa 1962", fill=(0, 0, 0))
    detailed = Image.blend(detailed, Image.effect_noise((3000, 2000), 50).convert("RGB"), 0.2)
    detailed = detailed.filter(ImageFilter.GaussianBlur(1))
    outputs = by_name(build_derivatives(encode(detailed, "JPEG", quality=95)))
    for name in ("large.webp", "download.jpg", "medium.webp", "thumb.webp"):
        out = decode(outputs[name].data)
        reference = detailed.resize(out.size, Image.Resampling.LANCZOS)
        assert mean_difference(out, reference) < 4, name


def test_custom_specs_choose_names_sizes_and_formats():
    specs = [DerivativeSpec("tiny", 64, format="JPEG", quality=70),
             DerivativeSpec("grid", 100, square=True)]  # fmt: skip
    outputs = build_derivatives(encode(upright(), "PNG"), specs)
    assert [(d.name, d.ext, d.width, d.height) for d in outputs] == [
        ("tiny", "jpg", 64, 43),
        ("grid", "webp", 100, 100),
    ]


def test_specs_with_impossible_settings_are_a_programming_error():
    with pytest.raises(ValueError):
        DerivativeSpec("x", 0)
    with pytest.raises(ValueError):
        DerivativeSpec("x", 100, format="GIF")
    with pytest.raises(ValueError):  # the worker stores derivatives under their names
        build_derivatives(
            encode(upright(), "PNG"),
            [DerivativeSpec("x", 100), DerivativeSpec("x", 100, format="JPEG")],
        )


def test_same_input_gives_the_same_bytes_every_time():
    data = encode(upright(1800, 1200), "JPEG", quality=90, exif=_orientation(6))
    first = build_derivatives(data)
    second = build_derivatives(data)
    assert [d.data for d in first] == [d.data for d in second]
    assert inspect_image(data) == inspect_image(data)


@pytest.mark.slow
def test_same_bytes_in_a_fresh_process():
    data = encode(upright(1200, 900), "PNG")
    here = [hashlib.sha256(d.data).hexdigest() for d in build_derivatives(data)]
    script = textwrap.dedent(
        """
        import hashlib, json, sys
        from webapp.media.imaging import build_derivatives
        data = sys.stdin.buffer.read()
        print(json.dumps([hashlib.sha256(d.data).hexdigest() for d in build_derivatives(data)]))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], input=data, capture_output=True,
                          timeout=60, check=True)  # fmt: skip
    assert json.loads(proc.stdout) == here


@pytest.mark.slow
def test_a_24_megapixel_phone_photo_is_fast_to_check_and_light_to_derive():
    """Upload check well under 100 ms; derivation in a fresh process under 300 MB peak RSS."""
    script = textwrap.dedent(
        """
        import io, json, time
        from PIL import Image
        from webapp.media.imaging import build_derivatives, inspect_image
        photo = Image.effect_noise((6000, 4000), 40).convert("RGB")
        buf = io.BytesIO()
        exif = Image.Exif()
        exif[0x0112] = 6
        photo.save(buf, "JPEG", quality=90, exif=exif)
        data = buf.getvalue()
        del photo, buf
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            facts = inspect_image(data)
            timings.append(time.perf_counter() - started)
        before = [l for l in open("/proc/self/status") if l.startswith("VmRSS")][0].split()[1]
        outputs = build_derivatives(data)
        peak = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
        print(json.dumps({"inspect": min(timings), "size": [facts.width, facts.height],
                          "large": [outputs[0].width, outputs[0].height],
                          "rss_before_kib": int(before), "peak_kib": int(peak)}))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=True)  # fmt: skip
    result = json.loads(proc.stdout)
    assert result["size"] == [4000, 6000]
    assert result["large"] == [1067, 1600]
    # Peak includes generating the 24 MP test picture (72 MB) before the derivation started.
    assert result["peak_kib"] < 300 * 1024


def _orientation(value: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif


def test_default_specs_are_the_documented_set():
    names = {(s.name, s.ext, s.size, s.square) for s in DEFAULT_SPECS}
    assert names == {
        ("large", "webp", 1600, False),
        ("download", "jpg", 1600, False),
        ("medium", "webp", 800, False),
        ("thumb", "webp", 256, False),
        ("square", "webp", 256, True),
    }


def test_the_original_is_decoded_once_whatever_the_number_of_specs(monkeypatch):
    """Decoded once: ten more small specs cost encoding only, never another decode (counted, not
    timed: the speed itself is measured in bench/images.py)."""
    from PIL import ImageFile

    decodes: list[tuple[int, int]] = []
    original_load = ImageFile.ImageFile.load

    def counting_load(self):
        if getattr(self, "fp", None) is not None or getattr(self, "_exclusive_fp", None):
            decodes.append(self.size)
        return original_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    data = encode(Image.effect_noise((2000, 1500), 40).convert("RGB"), "JPEG", quality=90)
    one = [DerivativeSpec("thumb", 256, format="JPEG")]
    many = one + [DerivativeSpec(f"t{i}", 200 + i, format="JPEG") for i in range(10)]
    assert len(build_derivatives(data, one)) == 1
    with_one = len(decodes)
    decodes.clear()
    assert len(build_derivatives(data, many)) == 11
    assert with_one >= 1  # control: the spy does see the decode
    assert len(decodes) == with_one
