"""Recordings made with PyAV for the tests: tones in every accepted format and a small phone-like
video, optionally tagged with the place it was filmed (as phones do in QuickTime ``©xyz``)."""

from __future__ import annotations

import io
import math
from fractions import Fraction

import av

#: Where the "phone" says the video was filmed (Paris, in ISO 6709 as QuickTime writes it).
LOCATION = "+48.8566+002.3522/"

#: format name → (PyAV container format, audio codec, sample format, file name)
AUDIO_FORMATS = {
    "mp3": ("mp3", "libmp3lame", "s16p", "tone.mp3"),
    "wav": ("wav", "pcm_s16le", "s16", "tone.wav"),
    "m4a": ("ipod", "aac", "fltp", "tone.m4a"),
    "ogg": ("ogg", "libopus", "s16", "tone.ogg"),
    "flac": ("flac", "flac", "s16", "tone.flac"),
}


def _tone_frames(seconds: float, rate: int, fmt: str, layout: str, frequency: float = 440.0):
    samples_per_frame = 960
    total = int(seconds * rate)
    done = 0
    while done < total:
        count = min(samples_per_frame, total - done)
        channels = 1 if layout == "mono" else 2
        values = [
            int(12000 * math.sin(2 * math.pi * frequency * (done + i) / rate)) for i in range(count)
        ]
        frame = av.AudioFrame(format="s16", layout=layout, samples=count)
        interleaved = bytearray()
        for value in values:
            interleaved += int(value).to_bytes(2, "little", signed=True) * channels
        frame.planes[0].update(bytes(interleaved))
        frame.sample_rate = rate
        frame.pts = done
        frame.time_base = Fraction(1, rate)
        done += count
        yield frame


def make_audio(
    kind: str = "wav", seconds: float = 3.0, rate: int = 48000, **metadata: str
) -> bytes:
    """A sine tone in one of ``AUDIO_FORMATS``."""
    container_format, codec, sample_format, _name = AUDIO_FORMATS[kind]
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container_format) as out:
        out.metadata.update(metadata)
        stream = out.add_stream(codec, rate=rate, layout="mono")
        resampler = av.AudioResampler(format=sample_format, layout="mono", rate=rate)
        for frame in _tone_frames(seconds, rate, "s16", "mono"):
            for converted in resampler.resample(frame):
                converted.pts = None
                out.mux(stream.encode(converted))
        out.mux(stream.encode(None))
    return buffer.getvalue()


def make_video(
    seconds: float = 2.0,
    width: int = 320,
    height: int = 240,
    fps: int = 25,
    container_format: str = "mov",
    codec: str = "libx264",
    location: str | None = None,
    with_audio: bool = True,
    rotation: int = 0,
) -> bytes:
    """A moving test pattern with a tone; ``location`` is written as phones write it."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container_format) as out:
        if location:
            out.metadata["location"] = location
            out.metadata["com.apple.quicktime.location.ISO6709"] = location
        video = out.add_stream(codec, rate=fps)
        video.width, video.height = width, height
        video.pix_fmt = "yuv420p"
        if rotation:
            video.metadata["rotate"] = str(rotation)
        audio = None
        if with_audio:
            audio_codec = "libopus" if container_format == "webm" else "aac"
            audio = out.add_stream(audio_codec, rate=48000, layout="mono")
        frames = int(seconds * fps)
        for n in range(frames):
            frame = av.VideoFrame(width, height, "yuv420p")
            luma = bytes((x + 3 * n) % 256 for x in range(frame.planes[0].line_size))
            frame.planes[0].update(luma * height)
            for plane in frame.planes[1:]:
                plane.update(bytes([(n * 5) % 256]) * plane.buffer_size)
            frame.pts = n
            frame.time_base = Fraction(1, fps)
            for packet in video.encode(frame):
                out.mux(packet)
        out.mux(video.encode(None))
        if audio is not None:
            resampler = av.AudioResampler(format=audio.format.name, layout="mono", rate=48000)
            for frame in _tone_frames(seconds, 48000, "s16", "mono"):
                for converted in resampler.resample(frame):
                    converted.pts = None
                    out.mux(audio.encode(converted))
            out.mux(audio.encode(None))
    return buffer.getvalue()
