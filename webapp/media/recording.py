"""Pure audio and video code: recognise a recording by its content and build its web derivatives.

``probe_recording`` runs on the upload path: it opens the file with PyAV (whose wheels bundle
FFmpeg), checks the container and codecs against what Passages accepts, reads the duration and
decodes the first moments so a damaged or disguised file is refused before anything is stored.
The extension and the Content-Type the browser sent are never consulted. ``transcode_audio`` and
``transcode_video`` run in the worker: they decode once and write a *fresh* MP4 container (AAC
audio, H.264 video at 720p at most) into which no metadata of the original is copied — phones
write the recording place (QuickTime ``©xyz``, location atoms) into their files, and a public
derivative must never carry it. Audio also yields its waveform peaks (a JSON document for the
player, a small PNG for lists); video yields a still frame that the image pipeline
(``webapp.media.imaging``) turns into the poster and thumbnails.

Like ``imaging``, this module works on files and values only: it must never touch the database,
storage, the queue or the network, and whatever FFmpeg raises on a hostile or damaged file
becomes a :class:`RecordingRejected` with a reason written for people.
"""

from __future__ import annotations

import io
import json
import logging
import math
import re
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import BinaryIO

import av
from PIL import Image, ImageDraw

log = logging.getLogger(__name__)

#: Exceptions let through untouched (the worker registers its job time-out here, as for images).
NEVER_SWALLOW: tuple[type[BaseException], ...] = ()

#: Largest side of the short edge of a video derivative: "720p at most" (portrait videos from a
#: phone are 720 wide, landscape ones 720 high).
VIDEO_MAX_SHORT_SIDE = 720
#: Frames per second above which every other frame is dropped (phones film at 60; 30 plays
#: everywhere and halves the encoding work).
VIDEO_MAX_FPS = 30
#: x264 settings: ``veryfast`` keeps a 1080p phone video above real time on two cores, CRF 23 is
#: x264's default quality (see bench/RESULTS.md for the figures).
X264_PRESET = "veryfast"
X264_CRF = "23"
#: A ceiling on the bitrate (kbit/s) so that grainy or shaky footage cannot make a web copy as
#: heavy as the original: 3 Mbit/s is ample for 720p, and a phone on 4G still plays it.
X264_MAXRATE = 3000
#: AAC bitrates of the derivatives: speech in mono needs less than music in stereo.
AUDIO_BITRATE_MONO = 96_000
AUDIO_BITRATE_STEREO = 128_000
#: Peaks of the waveform: this many columns over the whole recording (peaks.js / audiowaveform
#: "version 2" JSON, 8 bits, one channel), and the size of the list image.
WAVEFORM_COLUMNS = 1000
WAVEFORM_IMAGE_SIZE = (400, 60)
WAVEFORM_RATE = 8000
#: Seconds of the start decoded by ``probe_recording`` to catch damaged or disguised files.
PROBE_DECODE_SECONDS = 2.0
#: At most this many packets are read when a file does not state its duration (browser-made
#: WebM often does not) and the demuxer has to walk it.
DURATION_SCAN_MAX_PACKETS = 5_000_000

#: Container formats accepted, by FFmpeg demuxer name.
_CONTAINERS = {
    "mp3": "MP3",
    "wav": "WAV",
    "mov,mp4,m4a,3gp,3g2,mj2": "MP4/MOV",
    "aac": "AAC",
    "ogg": "Ogg",
    "flac": "FLAC",
    "matroska,webm": "WebM",
}
_AUDIO_CODECS = {"mp3", "mp3float", "aac", "aac_fixed", "opus", "libopus", "vorbis", "flac", "alac"}
_VIDEO_CODECS = {"h264", "hevc", "vp8", "vp9", "av1", "libdav1d", "mpeg4"}


#: MIME types browsers give the accepted recordings, for forms that check a file before sending
#: it (the server still probes every file and never trusts the type).
BROWSER_MIME_TYPES = (
    "audio/aac", "audio/flac", "audio/mp3", "audio/mp4", "audio/mpeg", "audio/ogg", "audio/opus",
    "audio/wav", "audio/wave", "audio/webm", "audio/x-flac", "audio/x-m4a", "audio/x-wav",
    "video/mp4", "video/quicktime", "video/webm", "video/x-matroska",
)  # fmt: skip


class RecordingRejected(Exception):
    """An upload or original we will not turn into derivatives.

    ``code`` and ``params`` say why for people (``webapp.labels.REASON`` holds the words in
    each language; ``webapp.reasons`` stores and reads them); ``reason`` is the same in English,
    for logs and the command line.
    """

    def __init__(self, reason: str, code: str, **params: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.params = params


class NotARecording(RecordingRejected):
    """No audio or video FFmpeg recognises at all (the caller may say "not a file we accept")."""


class RecordingTooLong(RecordingRejected):
    """Longer than the configured limit."""


@dataclass(frozen=True)
class RecordingFacts:
    """What the upload path stores: ``kind`` is ``audio`` or ``video``; sizes as displayed."""

    kind: str
    mime: str
    container: str
    duration: float
    width: int | None = None
    height: int | None = None


@dataclass
class AudioResult:
    duration: float
    peaks: dict = field(default_factory=dict)


@dataclass
class VideoResult:
    duration: float
    width: int
    height: int
    poster: bytes = b""


ProgressCallback = Callable[[float], None]


def _open(source: str | BinaryIO) -> av.container.InputContainer:
    if not isinstance(source, str):
        source.seek(0)
    try:
        return av.open(source, mode="r", metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise NotARecording(
            f"not an audio or video file ({_short(exc)})", "not_a_recording", detail=_short(exc)
        ) from exc


def _video_stream(container) -> av.video.stream.VideoStream | None:
    """The picture track, if any. Cover art in an MP3 or M4A is a still, not a video."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def _duration(container, limit: float) -> float:
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    best = 0.0
    for stream in container.streams:
        if stream.duration and stream.time_base:
            best = max(best, float(stream.duration * stream.time_base))
    if best > 0:
        return best
    # No stated duration: walk the packets (no decoding), stopping once past the limit.
    for n, packet in enumerate(container.demux()):
        if packet.pts is not None and packet.time_base:
            end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            best = max(best, end)
            if best > limit:
                break
        if n > DURATION_SCAN_MAX_PACKETS:
            break
    return best


def probe_recording(source: str | BinaryIO, *, max_seconds: float) -> RecordingFacts:
    """Recognise an audio or video recording by its content; raise :class:`RecordingRejected`.

    Refused: anything FFmpeg does not open, containers and codecs outside the accepted list,
    files without audio or video, recordings longer than ``max_seconds``, and files whose first
    seconds do not decode.
    """
    try:
        with _open(source) as container:
            return _facts(container, source, max_seconds)
    except RecordingRejected:
        raise
    except NEVER_SWALLOW:
        raise
    except MemoryError as exc:
        raise RecordingRejected(
            "the recording needs more memory than may be used", "recording_memory_on_demand"
        ) from exc
    except Exception as exc:  # FFmpeg's many errors on hostile files: a reason, never a 500
        raise NotARecording(
            f"not an audio or video file we can read ({_short(exc)})",
            "unreadable_recording",
            detail=_short(exc),
        ) from exc
    finally:
        if not isinstance(source, str):
            source.seek(0)


def _facts(container, source: str | BinaryIO, max_seconds: float) -> RecordingFacts:
    fmt = container.format.name
    if fmt not in _CONTAINERS:
        name = container.format.long_name or fmt
        raise NotARecording(f"the {name} format is not accepted", "container_refused", format=name)
    video = _video_stream(container)
    audio = container.streams.audio[0] if container.streams.audio else None
    if video is None and audio is None:
        raise NotARecording("the file holds neither sound nor pictures", "no_sound_no_picture")
    if video is not None and video.codec_context.name not in _VIDEO_CODECS:
        codec = video.codec_context.name
        raise RecordingRejected(
            f"the video codec {codec} is not accepted", "video_codec_refused", codec=codec
        )
    if audio is not None:
        name = audio.codec_context.name
        if name not in _AUDIO_CODECS and not name.startswith("pcm_"):
            raise RecordingRejected(
                f"the audio codec {name} is not accepted", "audio_codec_refused", codec=name
            )
    duration = _duration(container, max_seconds)
    if duration <= 0:
        raise RecordingRejected(
            "the recording is empty (no duration could be read)", "empty_recording"
        )
    if duration > max_seconds:
        raise RecordingTooLong(
            f"the recording lasts {_clock(duration)}, the limit is {_clock(max_seconds)}",
            "recording_too_long",
            duration=_clock(duration),
            limit=_clock(max_seconds),
        )
    kind = "video" if video is not None else "audio"
    width = height = None
    if video is not None:
        width, height = _displayed_size(video.codec_context.width, video.codec_context.height, 0)
    _check_decodes(source, kind)
    return RecordingFacts(
        kind=kind,
        mime=_mime(container, kind),
        container=_CONTAINERS[fmt],
        duration=round(duration, 3),
        width=width,
        height=height,
    )


def _check_decodes(source: str | BinaryIO, kind: str) -> None:
    """Decode the first seconds of the main track: a damaged or disguised file fails here."""
    with _open(source) as container:
        stream = _video_stream(container) if kind == "video" else container.streams.audio[0]
        decoded = 0
        for frame in container.decode(stream):
            decoded += 1
            if frame.time is not None and frame.time >= PROBE_DECODE_SECONDS:
                break
            if decoded >= 200:
                break
        if decoded == 0:
            raise RecordingRejected(f"the {kind} track could not be decoded", f"{kind}_undecodable")


def _mime(container, kind: str) -> str:
    fmt = container.format.name
    if fmt.startswith("mov,"):
        brand = (container.metadata.get("major_brand") or "").strip()
        if brand == "qt":
            return "video/quicktime"
        return f"{kind}/mp4"
    if fmt == "matroska,webm":
        return f"{kind}/webm"
    return {
        "mp3": "audio/mpeg",
        "wav": "audio/wav",
        "aac": "audio/aac",
        "ogg": "audio/ogg" if kind == "audio" else "video/ogg",
        "flac": "audio/flac",
    }[fmt]


def _displayed_size(width: int, height: int, rotation: float) -> tuple[int, int]:
    return (height, width) if round(rotation) % 180 else (width, height)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", text)  # FFmpeg's error number says nothing
    return text[:160]


# --- transcoding -----------------------------------------------------------------------------


def _output(path: str) -> av.container.OutputContainer:
    """A fresh MP4 that plays while it downloads (index first) and carries no metadata at all:
    nothing of the original's container or streams is copied, and ``bitexact`` leaves out even
    the encoder's name."""
    out = av.open(
        path,
        mode="w",
        format="mp4",
        container_options={"movflags": "+faststart", "fflags": "+bitexact"},
    )
    return out


def _audio_stream(out, source_stream) -> tuple[av.audio.stream.AudioStream, av.AudioResampler]:
    channels = source_stream.codec_context.channels or 1
    layout = "mono" if channels == 1 else "stereo"
    rate = 48000 if (source_stream.codec_context.sample_rate or 0) >= 48000 else 44100
    stream = out.add_stream("aac", rate=rate, layout=layout)
    stream.bit_rate = AUDIO_BITRATE_MONO if layout == "mono" else AUDIO_BITRATE_STEREO
    stream.metadata.clear()
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
    return stream, resampler


class _Peaks:
    """Min/max of a mono 8 kHz copy of the sound, per column; no NumPy needed."""

    def __init__(self, duration: float) -> None:
        total = max(1, math.ceil(duration * WAVEFORM_RATE))
        self.per_column = max(1, math.ceil(total / WAVEFORM_COLUMNS))
        self.resampler = av.AudioResampler(format="s16", layout="mono", rate=WAVEFORM_RATE)
        self.pending = array("h")
        self.data: list[int] = []

    def add(self, frame: av.AudioFrame | None) -> None:
        for out in self.resampler.resample(frame):
            samples = array("h")
            samples.frombytes(bytes(out.planes[0])[: out.samples * 2])
            self.pending.extend(samples)
        step = self.per_column
        while len(self.pending) >= step:
            self._column(self.pending[:step])
            del self.pending[:step]

    def _column(self, chunk: array) -> None:
        # 8-bit peaks, as audiowaveform writes them.
        self.data.append(max(-128, min(127, min(chunk) >> 8)))
        self.data.append(max(-128, min(127, max(chunk) >> 8)))

    def finish(self) -> dict:
        self.add(None)
        if self.pending:
            self._column(self.pending)
            self.pending = array("h")
        return {
            "version": 2,
            "channels": 1,
            "sample_rate": WAVEFORM_RATE,
            "samples_per_pixel": self.per_column,
            "bits": 8,
            "length": len(self.data) // 2,
            "data": self.data,
        }


def transcode_audio(
    source: str, destination: str, *, on_progress: ProgressCallback | None = None
) -> AudioResult:
    """Write ``source``'s sound as AAC in a fresh MP4 at ``destination``; return its peaks."""
    try:
        with _open(source) as container:
            if not container.streams.audio:
                raise RecordingRejected("the recording has no sound track", "no_sound_track")
            duration = _duration(container, math.inf)
            with _open(source) as reader:  # a second handle: _duration may have walked the file
                return _transcode_audio(reader, destination, duration, on_progress)
    except RecordingRejected:
        raise
    except NEVER_SWALLOW:
        raise
    except MemoryError as exc:
        raise RecordingRejected(
            "the recording needs more memory than a worker may use", "recording_memory"
        ) from exc
    except Exception as exc:
        log.warning("audio transcoding failed", exc_info=True)
        raise RecordingRejected(
            f"the recording could not be converted ({_short(exc)})",
            "recording_unconvertible",
            detail=_short(exc),
        ) from exc


def _transcode_audio(container, destination: str, duration: float, on_progress) -> AudioResult:
    source_stream = container.streams.audio[0]
    source_stream.thread_type = "AUTO"
    peaks = _Peaks(duration)
    with _output(destination) as out:
        stream, resampler = _audio_stream(out, source_stream)
        reporter = _Reporter(duration, on_progress)
        for frame in container.decode(source_stream):
            reporter.at(frame.time)
            peaks.add(frame)
            frame.pts = None
            for converted in resampler.resample(frame):
                out.mux(stream.encode(converted))
        for converted in resampler.resample(None):
            out.mux(stream.encode(converted))
        out.mux(stream.encode(None))
    return AudioResult(duration=round(duration, 3), peaks=peaks.finish())


class _Reporter:
    """Calls ``on_progress`` with the fraction done, at most every 2 % of the recording."""

    def __init__(self, duration: float, callback: ProgressCallback | None) -> None:
        self.duration = duration
        self.callback = callback
        self.last = -1.0

    def at(self, seconds: float | None) -> None:
        if self.callback is None or seconds is None or self.duration <= 0:
            return
        fraction = min(1.0, max(0.0, seconds / self.duration))
        if fraction - self.last >= 0.02:
            self.last = fraction
            self.callback(fraction)


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def _target_size(width: int, height: int) -> tuple[int, int]:
    short = min(width, height)
    scale = min(1.0, VIDEO_MAX_SHORT_SIDE / short) if short else 1.0
    return _even(width * scale), _even(height * scale)


def transcode_video(
    source: str, destination: str, *, on_progress: ProgressCallback | None = None
) -> VideoResult:
    """Write ``source`` as H.264/AAC in a fresh MP4 at ``destination`` (720p at most, upright,
    30 frames per second at most); return its size and a still frame for the poster."""
    try:
        with _open(source) as container:
            rotation = _first_rotation(container)
            duration = _duration(container, math.inf)
        with _open(source) as container:
            return _transcode_video(container, destination, duration, rotation, on_progress)
    except RecordingRejected:
        raise
    except NEVER_SWALLOW:
        raise
    except MemoryError as exc:
        raise RecordingRejected(
            "the video needs more memory than a worker may use", "video_memory"
        ) from exc
    except Exception as exc:
        log.warning("video transcoding failed", exc_info=True)
        raise RecordingRejected(
            f"the video could not be converted ({_short(exc)})",
            "video_unconvertible",
            detail=_short(exc),
        ) from exc


def _first_rotation(container) -> int:
    """How the phone was held (the display matrix of the first frame), in degrees."""
    stream = _video_stream(container)
    if stream is None:
        raise RecordingRejected("the video has no picture track", "no_picture_track")
    for frame in container.decode(stream):
        return round(frame.rotation or 0) % 360
    raise RecordingRejected(
        "the video has no picture that could be decoded", "no_decodable_picture"
    )


def _transcode_video(
    container, destination: str, duration: float, rotation: int, on_progress
) -> VideoResult:
    source = _video_stream(container)
    source.thread_type = "AUTO"
    audio_source = container.streams.audio[0] if container.streams.audio else None
    rate = source.average_rate or source.guessed_rate or Fraction(25)
    keep_every = 2 if rate > VIDEO_MAX_FPS else 1
    out_rate = Fraction(rate) / keep_every
    width, height = _target_size(
        *_displayed_size(source.codec_context.width, source.codec_context.height, rotation)
    )
    poster_at = min(max(duration * 0.1, 0.0), 5.0)
    poster: bytes = b""
    with _output(destination) as out:
        video = _video_output(out, width, height, out_rate)
        audio = resampler = None
        if audio_source is not None:
            audio_source.thread_type = "AUTO"
            audio, resampler = _audio_stream(out, audio_source)
        reporter = _Reporter(duration, on_progress)
        streams = [source] + ([audio_source] if audio_source is not None else [])
        decoded = written = 0
        for packet in container.demux(streams):
            for frame in packet.decode():
                if packet.stream.type == "audio":
                    frame.pts = None
                    for converted in resampler.resample(frame):
                        out.mux(audio.encode(converted))
                    continue
                reporter.at(frame.time)
                decoded += 1
                if (decoded - 1) % keep_every:
                    continue
                upright = _upright(frame, rotation, width, height)
                if not poster and frame.time is not None and frame.time >= poster_at:
                    poster = _still(upright)
                upright.pts = written
                upright.time_base = 1 / out_rate
                written += 1
                out.mux(video.encode(upright))
        if not written:
            raise RecordingRejected(
                "the video has no picture that could be decoded", "no_decodable_picture"
            )
        out.mux(video.encode(None))
        if audio is not None:
            for converted in resampler.resample(None):
                out.mux(audio.encode(converted))
            out.mux(audio.encode(None))
    if not poster:
        raise RecordingRejected("no still frame could be taken from the video", "no_still_frame")
    return VideoResult(duration=round(duration, 3), width=width, height=height, poster=poster)


def _video_output(out, width: int, height: int, rate: Fraction):
    stream = out.add_stream(
        "libx264",
        rate=rate,
        options={
            "preset": X264_PRESET,
            "crf": X264_CRF,
            "profile": "high",
            "x264-params": f"vbv-maxrate={X264_MAXRATE}:vbv-bufsize={2 * X264_MAXRATE}",
        },
    )
    stream.width = width
    stream.height = height
    stream.codec_context.time_base = 1 / rate
    stream.pix_fmt = "yuv420p"
    stream.codec_context.thread_type = "AUTO"
    stream.codec_context.thread_count = 0  # as many as the cores
    stream.metadata.clear()
    return stream


def _upright(frame: av.VideoFrame, rotation: float, width: int, height: int) -> av.VideoFrame:
    """``frame`` scaled to the output size, turned as the phone that filmed it was held."""
    turn = round(rotation) % 360
    if turn == 0:
        return frame.reformat(width=width, height=height, format="yuv420p")
    # The display matrix names an anticlockwise turn; Pillow's ROTATE_* are anticlockwise too.
    sideways = turn in (90, 270)
    scaled = frame.reformat(
        width=height if sideways else width,
        height=width if sideways else height,
        format="rgb24",
    )
    image = scaled.to_image().transpose(
        {
            90: Image.Transpose.ROTATE_90,
            180: Image.Transpose.ROTATE_180,
            270: Image.Transpose.ROTATE_270,
        }[turn]  # fmt: skip
    )
    return av.VideoFrame.from_image(image).reformat(format="yuv420p")


def _still(frame: av.VideoFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_image().save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


# --- waveform image --------------------------------------------------------------------------


def waveform_png(peaks: dict, size: tuple[int, int] = WAVEFORM_IMAGE_SIZE) -> bytes:
    """Draw the peaks as a small PNG (for lists): dark bars on a transparent background."""
    width, height = size
    data = peaks.get("data") or []
    columns = len(data) // 2
    image = Image.new("LA", size, (0, 0))
    draw = ImageDraw.Draw(image)
    middle = height / 2
    if columns:
        for x in range(width):
            start = x * columns // width
            stop = max(start + 1, (x + 1) * columns // width)
            low = min(data[2 * i] for i in range(start, min(stop, columns)))
            high = max(data[2 * i + 1] for i in range(start, min(stop, columns)))
            top = middle - max(1.0, high / 128 * middle)
            bottom = middle + max(1.0, -low / 128 * middle)
            draw.line([(x, top), (x, bottom)], fill=(40, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def peaks_json(peaks: dict) -> bytes:
    return json.dumps(peaks, separators=(",", ":")).encode("ascii")
