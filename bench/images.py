"""Image-pipeline benchmark: naive Pillow vs ``webapp.media.imaging.build_derivatives`` vs pyvips.

Generates photo-like test images once into ``bench/out/images/`` (gitignored), then runs each
approach in a fresh subprocess over the same files and the same derivative set (sizes, formats,
encoder settings taken from ``DEFAULT_SPECS``) so that time and peak RSS are separable, and finally
scores every output against a high-quality reference (SSIM with numpy, PSNR without). It prints
ms/image, images/s per core, peak RSS, output bytes, quality and ratios. ``--tune`` prints the
encoder trade-off table used to choose the settings. It never touches the app's database, storage
or queue, and pyvips is a bench-only dependency.

    python bench/images.py            # full run (20 images of 12/24 MP + PNG scans)
    python bench/images.py --quick    # smoke run (4 smaller images)
    python bench/images.py --tune     # encoder settings table
    python bench/images.py --inspect  # upload-path check (inspect_image) time per image
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image, ImageCms, ImageDraw, ImageFilter, ImageOps

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))

from webapp.media.imaging import (  # noqa: E402
    DEFAULT_SPECS,
    DerivativeSpec,
    build_derivatives,
    inspect_image,
)

APPROACHES = ("naive", "passages", "pyvips", "pyvips-1thread")


# --- test images ---------------------------------------------------------------------------------


def photo_like(width: int, height: int, seed: int) -> Image.Image:
    """A synthetic photograph: smooth lighting, shapes with soft and hard edges, textured areas
    and sensor noise, so that decoders, resamplers and encoders work as hard as on real photos
    (flat colour would flatter every encoder)."""
    rng = random.Random(seed)
    lo = Image.merge(
        "RGB",
        [Image.effect_noise((6, 4), 90).resize((width, height), Image.Resampling.BICUBIC)] * 1
        + [Image.linear_gradient("L").rotate(rng.randint(0, 359)).resize((width, height))]
        + [Image.radial_gradient("L").resize((width, height))],
    )
    draw = ImageDraw.Draw(lo)
    for _ in range(60):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randint(width // 60, width // 6)
        colour = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse((x - r, y - r, x + r, y + int(r * rng.uniform(0.3, 1.5))), fill=colour)
        else:
            pts = [(x + rng.randint(-r, r), y + rng.randint(-r, r)) for _ in range(5)]
            draw.polygon(pts, fill=colour)
    lo = lo.filter(ImageFilter.GaussianBlur(width / 2000))
    texture = Image.effect_noise((width // 3, height // 3), 70).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    detail = Image.effect_mandelbrot(
        (width, height), (-0.75 - 0.2, -0.1 - 0.15, -0.75 + 0.25, -0.1 + 0.15), 120
    )
    mask = Image.radial_gradient("L").resize((width, height)).point(lambda v: 255 - v)
    textured = Image.merge("RGB", [texture, detail, texture])
    img = Image.composite(Image.blend(lo, textured, 0.35), lo, mask)
    grain = Image.effect_noise((width, height), 8).convert("RGB")
    return Image.blend(img, grain, 0.12).filter(ImageFilter.UnsharpMask(1.2, 60, 2))


def scan_like(width: int, height: int, seed: int) -> Image.Image:
    """A flatbed scan of a print: the photo on a paper border with paper grain."""
    page = Image.new("RGB", (width, height), (236, 232, 222))
    grain = Image.effect_noise((width, height), 6).convert("RGB")
    page = Image.blend(page, grain, 0.08)
    inner = photo_like(int(width * 0.82), int(height * 0.7), seed)
    page.paste(inner, (int(width * 0.09), int(height * 0.1)))
    return page


def corpus(quick: bool) -> list[dict]:
    """The list of test files (name, size, kind, options), deterministic."""
    items: list[dict] = []
    if quick:
        items.append(dict(name="q-12mp-base.jpg", size=(4000, 3000), orient=1, progressive=False))
        items.append(dict(name="q-12mp-o6.jpg", size=(4000, 3000), orient=6, progressive=True))
        items.append(dict(name="q-24mp-o8.jpg", size=(6000, 4000), orient=8, progressive=False))
        items.append(dict(name="q-scan.png", size=(2400, 3200), kind="png"))
        return items
    orients = [1, 6, 1, 8, 1, 3, 6, 1]
    for i in range(8):
        for label, size in (("12mp", (4000, 3000)), ("24mp", (6000, 4000))):
            items.append(
                dict(
                    name=f"{label}-{i}.jpg",
                    size=size,
                    orient=orients[i],
                    progressive=i % 3 == 2,
                    icc=i % 4 == 1,
                )
            )
    for i in range(4):
        items.append(dict(name=f"scan-{i}.png", size=(3400, 4400), kind="png"))
    return items


def ensure_images(quick: bool) -> list[Path]:
    folder = OUT / "images"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for seed, item in enumerate(corpus(quick)):
        path = folder / item["name"]
        paths.append(path)
        if path.exists():
            continue
        w, h = item["size"]
        if item.get("kind") == "png":
            scan_like(w, h, seed).save(path, "PNG")
        else:
            img = photo_like(w, h, seed)
            exif = Image.Exif()
            exif[0x0110] = "Bench Camera"
            if item["orient"] != 1:
                # Store the pixels rotated the way a camera sensor would, and tag them.
                img = _unapply(img, item["orient"])
                exif[0x0112] = item["orient"]
            img.save(
                path,
                "JPEG",
                quality=92,
                progressive=item["progressive"],
                exif=exif,
                icc_profile=srgb if item.get("icc") else None,
            )
        print(f"  generated {path.name}", file=sys.stderr)
    return paths


def _unapply(img: Image.Image, orientation: int) -> Image.Image:
    inverse = {
        3: Image.Transpose.ROTATE_180,
        6: Image.Transpose.ROTATE_90,
        8: Image.Transpose.ROTATE_270,
    }
    return img.transpose(inverse[orientation])


# --- the three approaches (run inside a fresh subprocess) ----------------------------------------


def run_naive(data: bytes, specs: tuple[DerivativeSpec, ...]) -> list[tuple[str, bytes]]:
    """What most code does: full decode, exif_transpose, thumbnail() per size (each size resized
    once from the full image, then encoded in each format asked for)."""
    im = Image.open(io.BytesIO(data))
    im.load()
    im = ImageOps.exif_transpose(im).convert("RGB")
    resized: dict[tuple[int, bool], Image.Image] = {}
    out = []
    for spec in specs:
        key = (spec.size, spec.square)
        if key not in resized:
            if spec.square:
                resized[key] = ImageOps.fit(im, (spec.size, spec.size))
            else:
                resized[key] = im.copy()
                resized[key].thumbnail((spec.size, spec.size))
        out.append((f"{spec.name}.{spec.ext}", _pil_encode(resized[key], spec)))
    return out


def _pil_encode(im: Image.Image, spec: DerivativeSpec) -> bytes:
    buf = io.BytesIO()
    if spec.format == "WEBP":
        im.save(buf, "WEBP", quality=spec.quality, method=spec.effort)
    else:
        im.save(buf, "JPEG", quality=spec.quality, optimize=True, progressive=spec.progressive)
    return buf.getvalue()


def run_passages(data: bytes, specs: tuple[DerivativeSpec, ...]) -> list[tuple[str, bytes]]:
    return [(f"{d.name}.{d.ext}", d.data) for d in build_derivatives(data, specs)]


def run_pyvips(data: bytes, specs: tuple[DerivativeSpec, ...]) -> list[tuple[str, bytes]]:
    """pyvips as its authors advise: thumbnail_buffer (shrink-on-load, auto-rotate, ICC to sRGB)
    for the largest size, smaller sizes resized from that result, metadata stripped."""
    import pyvips

    biggest = max(s.size for s in specs if not s.square)
    large = pyvips.Image.thumbnail_buffer(data, biggest, size="down")
    if large.hasalpha():
        large = large.flatten(background=[255, 255, 255])
    large = large.copy_memory()
    made: dict[int, pyvips.Image] = {biggest: large}
    out = []
    for spec in specs:
        if spec.square:
            source = min(
                (img for img in made.values() if min(img.width, img.height) >= spec.size),
                key=lambda img: img.width,
                default=large,
            )
            img = source.thumbnail_image(spec.size, height=spec.size, crop="centre", size="down")
        elif spec.size in made:
            img = made[spec.size]
        else:
            source = min(
                (img for s, img in made.items() if s >= spec.size), key=lambda img: img.width
            )
            scale = spec.size / max(source.width, source.height)
            img = source.resize(min(1.0, scale)).copy_memory()
            made[spec.size] = img
        if spec.format == "WEBP":
            blob = img.webpsave_buffer(Q=spec.quality, effort=spec.effort, strip=True)
        else:
            blob = img.jpegsave_buffer(
                Q=spec.quality, optimize_coding=True, interlace=spec.progressive, strip=True
            )
        out.append((f"{spec.name}.{spec.ext}", blob))
    return out


RUNNERS = {
    "naive": run_naive,
    "passages": run_passages,
    "pyvips": run_pyvips,
    "pyvips-1thread": run_pyvips,
}


def worker_main(approach: str, files: list[str], save_dir: str) -> None:
    """Inside the subprocess: time each image (wall and CPU), save outputs, report JSON."""
    runner = RUNNERS[approach]
    specs = DEFAULT_SPECS
    results = []
    if approach.startswith("pyvips"):
        import pyvips

        pyvips.cache_set_max(0)  # no cross-image caching: each image is new work, as in a worker
    for name in files:
        data = Path(name).read_bytes()
        t0, c0 = time.perf_counter(), time.process_time()
        outputs = runner(data, specs)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        folder = Path(save_dir) / Path(name).name
        folder.mkdir(parents=True, exist_ok=True)
        for fname, blob in outputs:
            (folder / fname).write_bytes(blob)
        results.append(dict(file=name, wall=wall, cpu=cpu, bytes={f: len(b) for f, b in outputs}))
    json.dump(dict(approach=approach, results=results, peak_rss_mb=_peak_rss_mb()), sys.stdout)


def _peak_rss_mb() -> float:
    """VmHWM is reset by exec, unlike ru_maxrss, which a child inherits from the forking parent
    (the bench parent holds whole 24 MP images while generating and scoring)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_approach(approach: str, files: list[Path]) -> dict:
    save_dir = OUT / "results" / approach
    env = dict(os.environ)
    if approach == "pyvips-1thread":
        env["VIPS_CONCURRENCY"] = "1"
    cmd = [sys.executable, __file__, "--worker", approach, "--save", str(save_dir)]
    cmd += [str(f) for f in files]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{approach} failed:\n{proc.stderr}")
    return json.loads(proc.stdout)


# --- quality -------------------------------------------------------------------------------------


def reference(path: Path) -> Image.Image:
    """High-quality upright sRGB rendering of the original: full decode, no shortcuts."""
    im = Image.open(path)
    im.load()
    im = ImageOps.exif_transpose(im)
    icc = im.info.get("icc_profile")
    if icc:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        im = ImageCms.profileToProfile(im, src, srgb, outputMode="RGB")
    return im.convert("RGB")


def reference_at(ref: Image.Image, size: tuple[int, int], square: bool) -> Image.Image:
    if square:
        side = min(ref.size)
        box = (
            (ref.width - side) / 2,
            (ref.height - side) / 2,
            (ref.width + side) / 2,
            (ref.height + side) / 2,
        )
        return ref.resize(size, Image.Resampling.LANCZOS, box=box)
    return ref.resize(size, Image.Resampling.LANCZOS)


def quality(a: Image.Image, b: Image.Image) -> float:
    """SSIM on luma (7×7 uniform window, as scikit-image's default) or PSNR without numpy."""
    try:
        import numpy as np
    except ImportError:
        return _psnr(a, b)
    x = np.asarray(a.convert("L"), dtype=np.float64)
    y = np.asarray(b.convert("L"), dtype=np.float64)
    k = 7

    def box(m):
        c = np.pad(m, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
        return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k)

    mx, my = box(x), box(y)
    vx = box(x * x) - mx * mx
    vy = box(y * y) - my * my
    cxy = box(x * y) - mx * my
    n = k * k
    vx, vy, cxy = vx * n / (n - 1), vy * n / (n - 1), cxy * n / (n - 1)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())


def _psnr(a: Image.Image, b: Image.Image) -> float:
    from PIL import ImageChops, ImageStat

    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    mse = sum(v * v for v in ImageStat.Stat(diff).rms) / 3
    return 99.0 if mse == 0 else 10 * math.log10(255 * 255 / mse)


def score_outputs(files: list[Path], approaches: list[str]) -> dict[str, dict[str, float]]:
    """Mean quality per approach and derivative file name."""
    scores: dict[str, dict[str, list[float]]] = {a: {} for a in approaches}
    for path in files:
        ref = reference(path)
        cache: dict[tuple, Image.Image] = {}
        for approach in approaches:
            folder = OUT / "results" / approach / path.name
            for spec in DEFAULT_SPECS:
                fname = f"{spec.name}.{spec.ext}"
                out = Image.open(folder / fname).convert("RGB")
                key = (out.size, spec.square)
                if key not in cache:
                    cache[key] = reference_at(ref, out.size, spec.square)
                scores[approach].setdefault(fname, []).append(quality(out, cache[key]))
    return {a: {f: sum(v) / len(v) for f, v in per.items()} for a, per in scores.items()}


# --- encoder tuning table ------------------------------------------------------------------------


def tune(files: list[Path]) -> None:
    """Encode the large and medium renderings at several settings: time, bytes, SSIM."""
    rows: dict[tuple, list[tuple[float, int, float]]] = {}
    for path in files:
        ref = reference(path)
        for size in (1600, 800, 256):
            scale = size / max(ref.size)
            dims = (round(ref.width * scale), round(ref.height * scale))
            img = ref.resize(dims, Image.Resampling.LANCZOS)
            settings = [("WEBP", q, m) for q in (75, 80, 85) for m in (0, 2, 3, 4, 6)]
            settings += [("JPEG", q, p) for q in (80, 82, 85, 90) for p in ("base", "prog")]
            for fmt, q, m in settings:
                buf = io.BytesIO()
                t0 = time.process_time()
                if fmt == "WEBP":
                    img.save(buf, "WEBP", quality=q, method=m)
                else:
                    img.save(buf, "JPEG", quality=q, optimize=True, progressive=m == "prog")
                cpu = time.process_time() - t0
                back = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
                rows.setdefault((size, fmt, q, m), []).append(
                    (cpu, len(buf.getvalue()), quality(back, img))
                )
    print(f"{'size':>5} {'format':6} {'q':>3} {'method':>6} {'ms':>7} {'KiB':>8} {'SSIM':>7}")
    # method: libwebp method for WebP; base/prog = baseline/progressive (optimised) for JPEG
    for (size, fmt, q, m), vals in sorted(rows.items(), key=lambda kv: (-kv[0][0], kv[0][1:])):
        n = len(vals)
        ms = 1000 * sum(v[0] for v in vals) / n
        kib = sum(v[1] for v in vals) / n / 1024
        ssim = sum(v[2] for v in vals) / n
        print(f"{size:>5} {fmt:6} {q:>3} {m:>6} {ms:7.1f} {kib:8.1f} {ssim:7.4f}")


# --- report --------------------------------------------------------------------------------------


def report(runs: dict[str, dict], scores: dict[str, dict[str, float]], files: list[Path]) -> None:
    load = os.getloadavg()
    print(
        f"images: {len(files)} ({', '.join(sorted({_label(f) for f in files}))}); "
        f"cores: {os.cpu_count()}; load average before run: {load[0]:.2f}"
    )
    print(
        "derivatives: "
        + ", ".join(
            f"{s.name}.{s.ext} {s.size}{'sq' if s.square else ''} q{s.quality}"
            + (f" m{s.effort}" if s.format == "WEBP" else "")
            for s in DEFAULT_SPECS
        )
    )
    header = (
        f"{'approach':15} {'wall ms/img':>11} {'cpu ms/img':>10} {'img/s/core':>10} "
        f"{'peak RSS MB':>11} {'out KiB/img':>11} {'SSIM':>7}"
    )
    print(header)
    summary = {}
    for approach, run in runs.items():
        res = run["results"]
        wall = 1000 * sum(r["wall"] for r in res) / len(res)
        cpu = 1000 * sum(r["cpu"] for r in res) / len(res)
        kib = sum(sum(r["bytes"].values()) for r in res) / len(res) / 1024
        q = scores[approach]
        ssim = sum(q.values()) / len(q)
        summary[approach] = dict(wall=wall, cpu=cpu, kib=kib, ssim=ssim)
        print(
            f"{approach:15} {wall:11.1f} {cpu:10.1f} {1000 / cpu:10.2f} "
            f"{run['peak_rss_mb']:11.1f} {kib:11.1f} {ssim:7.4f}"
        )
    per_file_kib = {
        a: {
            f: sum(r["bytes"][f] for r in run["results"]) / len(run["results"]) / 1024
            for f in run["results"][0]["bytes"]
        }
        for a, run in runs.items()
    }
    print(
        "per-derivative KiB/img: "
        + "; ".join(
            f"{a}: " + ", ".join(f"{f} {v:.1f}" for f, v in k.items())
            for a, k in per_file_kib.items()
        )
    )
    print(
        "per-derivative SSIM: "
        + "; ".join(
            f"{a}: " + ", ".join(f"{f} {v:.4f}" for f, v in q.items()) for a, q in scores.items()
        )
    )
    for label in ("12mp", "24mp", "scan"):
        parts = []
        for approach, run in runs.items():
            res = [r for r in run["results"] if _label(Path(r["file"])) == label]
            if res:
                parts.append(f"{approach} {1000 * sum(r['cpu'] for r in res) / len(res):.0f}")
        if parts:
            print(f"cpu ms/img {label}: " + ", ".join(parts))
    ours = summary["passages"]
    for other in ("naive", "pyvips", "pyvips-1thread"):
        o = summary[other]
        print(
            f"passages / {other}: wall {ours['wall'] / o['wall']:.2f}, "
            f"cpu {ours['cpu'] / o['cpu']:.2f}, bytes {ours['kib'] / o['kib']:.2f}, "
            f"SSIM {ours['ssim'] - o['ssim']:+.4f}"
        )
    n = summary["naive"]
    print(
        f"speed-up vs naive: wall {n['wall'] / ours['wall']:.2f}x, "
        f"cpu {n['cpu'] / ours['cpu']:.2f}x"
    )


def iso_quality(files: list[Path]) -> None:
    """Bytes at equal quality: encode naive and passages outputs at three quality settings
    (in this process, untimed), then interpolate passages' bytes at naive's default SSIM."""
    deltas = (-3, 0, 3)
    totals = {(a, d): [0, []] for a in ("naive", "passages") for d in deltas}
    for path in files:
        ref = reference(path)
        cache: dict[tuple, Image.Image] = {}
        for delta in deltas:
            specs = tuple(
                DerivativeSpec(
                    s.name, s.size, s.square, s.format, s.quality + delta, s.effort, s.progressive
                )  # fmt: skip
                for s in DEFAULT_SPECS
            )
            for approach in ("naive", "passages"):
                entry = totals[(approach, delta)]
                for fname, blob in RUNNERS[approach](path.read_bytes(), specs):
                    entry[0] += len(blob)
                    out = Image.open(io.BytesIO(blob)).convert("RGB")
                    key = (out.size, fname.startswith("square"))
                    if key not in cache:
                        cache[key] = reference_at(ref, *key)
                    entry[1].append(quality(out, cache[key]))
    curves = {
        a: [(sum(totals[(a, d)][1]) / len(totals[(a, d)][1]), totals[(a, d)][0] / len(files) / 1024)
            for d in deltas]
        for a in ("naive", "passages")
    }  # fmt: skip
    target_q, naive_kib = curves["naive"][1]
    ours = sorted(curves["passages"])
    kib = None
    for (q0, b0), (q1, b1) in zip(ours, ours[1:], strict=False):
        if q0 <= target_q <= q1:
            kib = b0 + (b1 - b0) * (target_q - q0) / (q1 - q0)
    for approach, points in curves.items():
        print(f"quality curve {approach} (quality -3/0/+3): "
              + ", ".join(f"{k:.1f} KiB @ {q:.4f}" for q, k in points))  # fmt: skip
    if kib is None:
        print("iso-quality: naive's SSIM is outside passages' measured range")
    else:
        print(f"iso-quality: at naive's SSIM {target_q:.4f}, passages needs {kib:.1f} KiB/img "
              f"vs naive {naive_kib:.1f} (ratio {kib / naive_kib:.3f})")  # fmt: skip


def _label(path: Path) -> str:
    name = path.name
    if "scan" in name:
        return "scan"
    return "24mp" if "24mp" in name else "12mp"


def inspect_times(files: list[Path]) -> None:
    """The upload path's cost per image: ``inspect_image`` runs inside the web request, so it
    must stay far below a second even for a 24 MP photo (it reads the header and, for JPEG, the
    structure; it never decodes the full image). Best of three runs per file."""
    print(f"{'image':<28} {'inspect ms':>10}")
    for path in files:
        data = path.read_bytes()
        best = math.inf
        for _ in range(3):
            started = time.perf_counter()
            inspect_image(data)
            best = min(best, time.perf_counter() - started)
        print(f"{path.name:<28} {best * 1000:>10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--tune", action="store_true", help="print the encoder settings table")
    parser.add_argument("--inspect", action="store_true", help="time the upload-path check")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--save", help=argparse.SUPPRESS)
    parser.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args.worker, args.files, args.save)
        return
    files = ensure_images(args.quick)
    if args.tune:
        tune(files[::3])  # a mix of 12 MP, 24 MP and a scan
        return
    if args.inspect:
        inspect_times(files)
        return
    runs = {a: run_approach(a, files) for a in APPROACHES}
    scores = score_outputs(files, list(APPROACHES))
    report(runs, scores, files)
    iso_quality(files)


if __name__ == "__main__":
    main()
