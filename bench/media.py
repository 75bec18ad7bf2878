"""Recording-conversion benchmark: real-time factor and peak memory of ``webapp.media.recording``.

Generates two recordings once into ``bench/out/media/`` (gitignored) with PyAV:

- a 30-minute interview as a phone's voice recorder writes it (AAC in M4A, 48 kHz mono, speech-like
  bursts of harmonics and noise with pauses);
- a 10-minute 1080p phone video (H.264 High in a QuickTime MOV, 30 frames per second, ~8 Mbit/s
  with AAC stereo, a moving noisy picture so that the decoder and the encoder work as on real
  footage, and the recording place in ``©xyz``, as phones write it).

Then converts each with the functions the worker runs (``transcode_audio``, ``transcode_video``),
each in a fresh process so that time, CPU and peak RSS are its own, and prints: duration of the
recording, wall time, CPU time (all threads), the real-time factor (recording seconds per wall
second: 50 means an hour converts in 72 s), CPU per minute of recording, peak RSS, output size,
and whether the output still holds the location. It never touches the app's database, storage or
queue.

    python bench/media.py            # full run (30 min audio, 10 min 1080p video)
    python bench/media.py --quick    # smoke run (3 min audio, 1 min video)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import subprocess
import sys
import time
from array import array
from fractions import Fraction
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "media"
sys.path.insert(0, str(ROOT))

LOCATION = "+48.8566+002.3522/"
AUDIO_RATE = 48000


# --- test recordings -----------------------------------------------------------------------------


def _speech_chunks(rate: int, seed: int = 7) -> list[bytes]:
    """Forty 0.5 s pieces of speech-like sound (voiced harmonics with a wandering pitch, noise,
    syllable envelopes) and silence, as 16-bit mono, to be strung together at random."""
    rng = random.Random(seed)
    chunks = []
    n = rate // 2
    for k in range(40):
        samples = array("h")
        if k % 8 == 7:  # a pause
            samples.extend(int(rng.gauss(0, 40)) for _ in range(n))
        else:
            pitch = rng.uniform(95, 230)
            phase = 0.0
            for i in range(n):
                t = i / rate
                phase += 2 * math.pi * pitch * (1 + 0.05 * math.sin(2 * math.pi * 3 * t)) / rate
                envelope = 0.5 - 0.5 * math.cos(2 * math.pi * 4 * t)
                voiced = sum(math.sin(h * phase) / h for h in (1, 2, 3, 5))
                value = 6000 * envelope * voiced + rng.gauss(0, 400)
                samples.append(max(-32768, min(32767, int(value))))
        chunks.append(samples.tobytes())
    return chunks


def make_interview(path: Path, minutes: float) -> None:
    rng = random.Random(1)
    chunks = _speech_chunks(AUDIO_RATE)
    with av.open(str(path), "w", format="ipod") as out:
        stream = out.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        stream.bit_rate = 128_000
        for index in range(int(minutes * 60 * 2)):
            frame = av.AudioFrame(format="s16", layout="mono", samples=AUDIO_RATE // 2)
            frame.planes[0].update(rng.choice(chunks))
            frame.sample_rate = AUDIO_RATE
            frame.pts = index * (AUDIO_RATE // 2)
            frame.time_base = Fraction(1, AUDIO_RATE)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def _picture_frames(width: int, height: int, count: int) -> list[list[bytes]]:
    """``count`` distinct noisy, textured YUV pictures (made with Pillow, no NumPy)."""
    from PIL import Image, ImageDraw, ImageFilter

    frames = []
    for k in range(count):
        image = Image.effect_noise((width // 8, height // 8), 60 + k).resize((width, height))
        image = Image.merge("RGB", [image, Image.linear_gradient("L").resize((width, height)),
                                    image.rotate(180)])  # fmt: skip
        draw = ImageDraw.Draw(image)
        x = int((k / count) * (width - 400))
        draw.ellipse([x, height // 3, x + 400, height // 3 + 400], fill=(220, 120, 40))
        image = image.filter(ImageFilter.GaussianBlur(1))
        grain = Image.effect_noise((width, height), 24).convert("RGB")
        image = Image.blend(image, grain, 0.08)
        frame = av.VideoFrame.from_image(image).reformat(format="yuv420p")
        frames.append([bytes(plane) for plane in frame.planes])
    return frames


def make_phone_video(path: Path, minutes: float, fps: int = 30) -> None:
    width, height = 1920, 1080
    pictures = _picture_frames(width, height, 48)
    chunks = _speech_chunks(AUDIO_RATE)
    rng = random.Random(2)
    with av.open(str(path), "w", format="mov") as out:
        out.metadata["location"] = LOCATION
        # ~8 Mbit/s High profile, as a phone writes 1080p (x264's fastest preset to make it).
        rate_control = "bitrate=8000:vbv-maxrate=10000:vbv-bufsize=10000"
        options = {"preset": "ultrafast", "profile": "high", "x264-params": rate_control}
        video = out.add_stream("libx264", rate=fps, options=options)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = out.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
        frames = int(minutes * 60 * fps)
        audio_pts = 0
        for n in range(frames):
            frame = av.VideoFrame(width, height, "yuv420p")
            # A slow pan through the pictures: each is shown a few frames, shifted a little.
            for plane, data in zip(frame.planes, pictures[(n // 3) % len(pictures)], strict=True):
                plane.update(data)
            frame.pts = n
            frame.time_base = Fraction(1, fps)
            out.mux(video.encode(frame))
            if n % (fps // 2) == 0:
                sound = av.AudioFrame(format="s16", layout="mono", samples=AUDIO_RATE // 2)
                sound.planes[0].update(rng.choice(chunks))
                sound.sample_rate = AUDIO_RATE
                sound.pts = audio_pts
                sound.time_base = Fraction(1, AUDIO_RATE)
                audio_pts += AUDIO_RATE // 2
                for converted in resampler.resample(sound):
                    converted.pts = None
                    out.mux(audio.encode(converted))
        out.mux(video.encode(None))
        out.mux(audio.encode(None))


# --- one conversion in its own process -----------------------------------------------------------


def run_one(kind: str, source: str, destination: str) -> dict:
    """Convert in this process; report time, CPU and peak RSS (called in a child)."""
    from webapp.media.recording import transcode_audio, transcode_video

    started = time.monotonic()
    cpu0 = time.process_time()
    if kind == "audio":
        result = transcode_audio(source, destination)
    else:
        result = transcode_video(source, destination)
    wall = time.monotonic() - started
    cpu = time.process_time() - cpu0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    data = Path(destination).read_bytes()
    with av.open(destination) as played:
        codecs = [s.codec_context.name for s in played.streams]
        size = None
        if played.streams.video:
            ctx = played.streams.video[0].codec_context
            size = f"{ctx.width}x{ctx.height}"
        tags = dict(played.metadata)
    return {
        "kind": kind,
        "duration": result.duration,
        "wall": wall,
        "cpu": cpu,
        "rss_mb": rss_mb,
        "out_mb": len(data) / 1048576,
        "codecs": codecs,
        "size": size,
        "location_in_output": (b"48.8566" in data) or any("location" in k for k in tags),
    }


def measure(kind: str, source: Path) -> dict:
    destination = OUT / f"out-{kind}.mp4"
    output = subprocess.run(
        [sys.executable, __file__, "--one", kind, str(source), str(destination)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 min of audio, 1 min of video")
    parser.add_argument("--one", nargs=3, metavar=("KIND", "SRC", "DEST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # the child process of measure()
        print(json.dumps(run_one(*args.one)))
        return
    OUT.mkdir(parents=True, exist_ok=True)
    audio_minutes, video_minutes = (3, 1) if args.quick else (30, 10)
    audio = OUT / f"interview-{audio_minutes}min.m4a"
    video = OUT / f"phone-{video_minutes}min-1080p.mov"
    for path, make, minutes in ((audio, make_interview, audio_minutes),
                                (video, make_phone_video, video_minutes)):  # fmt: skip
        if not path.exists():
            started = time.monotonic()
            make(path.with_suffix(".part" + path.suffix), minutes)
            path.with_suffix(".part" + path.suffix).rename(path)
            print(f"generated {path.name} in {time.monotonic() - started:.0f} s", flush=True)
    print(f"cores: {os.cpu_count()}; load average before run: {os.getloadavg()[0]:.2f}")
    print(f"inputs: {audio.name} {audio.stat().st_size / 1048576:.1f} MB, "
          f"{video.name} {video.stat().st_size / 1048576:.1f} MB")  # fmt: skip
    header = (
        f"{'recording':<10}{'length':>9}{'wall s':>9}{'cpu s':>9}{'× real time':>13}"
        f"{'cpu s/min':>11}{'peak RSS MB':>13}{'out MB':>8}  output"
    )
    print(header)
    for kind, source in (("audio", audio), ("video", video)):
        r = measure(kind, source)
        load = os.getloadavg()[0]
        print(
            f"{kind:<10}{r['duration'] / 60:>7.1f} m{r['wall']:>9.1f}{r['cpu']:>9.1f}"
            f"{r['duration'] / r['wall']:>13.1f}{r['cpu'] / (r['duration'] / 60):>11.2f}"
            f"{r['rss_mb']:>13.0f}{r['out_mb']:>8.1f}  {'+'.join(r['codecs'])}"
            f"{' ' + r['size'] if r['size'] else ''}"
            f"{', location kept!' if r['location_in_output'] else ', no location'}"
            f" (load after: {load:.2f})",
            flush=True,
        )


if __name__ == "__main__":
    main()
