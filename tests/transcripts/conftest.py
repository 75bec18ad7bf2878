"""Fixtures for transcripts: a story with an audio recording, written straight to the database
(upload and transcoding have their own tests), its playable file a real AAC/MP4 made with PyAV."""

from __future__ import annotations

import functools
import io
import itertools
import math
from array import array
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.public.conftest import login  # noqa: F401

_numbers = itertools.count(1)

#: A French interview with overlapping cues and an Arabic line; "tabouret" is said at 00:12.
INTERVIEW_VTT = """WEBVTT

00:00:01.000 --> 00:00:05.000
<v Fatima>Je suis arrivée à Orly en hiver 1962.

00:00:04.000 --> 00:00:08.000
<v Enquêtrice>Et vous aviez quel âge ?

00:00:08.000 --> 00:00:12.000
قالت لي أمي: لا تنسي بلدك

00:00:12.000 --> 00:00:16.000
<v Fatima>Mon père réparait un tabouret dans la cour.
"""


@functools.cache
def make_audio(seconds: float = 20.0) -> bytes:
    """A tone as AAC in MP4, what the media pipeline serves as a recording's ``audio``.

    Made once per length and session: the same bytes every time, and computing 20 s of samples
    in Python took half a second of each test that wanted a playable recording.
    """
    import av

    out = io.BytesIO()
    rate, frame_size = 44100, 1024
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "mono"
        samples = int(seconds * rate)
        for offset in range(0, samples, frame_size):
            n = min(frame_size, samples - offset)
            wave = array("f", (0.2 * math.sin(2 * math.pi * 440 * (offset + i) / rate)
                               for i in range(n)))  # fmt: skip
            frame = av.AudioFrame(format="flt", layout="mono", samples=n)
            frame.planes[0].update(wave.tobytes())
            frame.sample_rate = rate
            frame.pts = offset
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


@pytest.fixture
def recorded_story(app) -> Callable[..., tuple[int, int]]:
    """Create a story with one audio recording; return ``(story id, media id)``.

    ``consent=True`` records the recorded person's consent; ``audio=True`` stores a real
    playable file as the recording's ``audio`` derivative.
    """

    def make(
        *,
        status: str = "published",
        submitted_by: int | None = None,
        consent: bool = True,
        audio: bool = False,
        **fields: Any,
    ) -> tuple[int, int]:
        from webapp.extensions import db
        from webapp.models import MediaAsset, RecordingConsent, Story
        from webapp.services import backends

        number = next(_numbers)
        with app.app_context():
            values: dict[str, Any] = {
                "title": "Entretien avec Fatima",
                "body": "Fatima raconte son arrivée en France.",
                "language": "fr",
                "places": ["Vitry-sur-Seine"],
                "themes": ["famille"],
                "licence": "CC-BY-4.0",
                "consent": {"contributor": True},
            }
            values.update(fields)
            story = Story(status=status, submitted_by_id=submitted_by, **values)
            if status == "published":
                story.published_at = datetime.now(UTC)
            key = f"derivatives/9{number}/audio.m4a"
            media = MediaAsset(
                position=0,
                original_key=f"originals/sha256/{number:064x}",
                sha256=f"{number:064x}",
                mime_type="audio/mp4",
                kind="audio",
                byte_size=1000,
                original_filename="fatima.m4a",
                state="ready",
                derivatives={"audio": {"key": key, "mime": "audio/mp4", "bytes": 1000}},
            )
            story.media.append(media)
            db.session.add(story)
            db.session.flush()
            if audio:
                data = make_audio()
                key = f"derivatives/{media.id}/audio.m4a"
                backends.object_store().put(key, data, content_type="audio/mp4")
                media.derivatives = {"audio": {"key": key, "mime": "audio/mp4", "bytes": len(data)}}
            if consent:
                db.session.add(
                    RecordingConsent(media_id=media.id, person="Fatima", consent_given=True)
                )
            db.session.commit()
            return story.id, media.id

    return make


@pytest.fixture
def index_now(app) -> Callable[[int], None]:
    """Index a story as the search worker does (``document_for`` into the real index)."""

    def run(story_id: int) -> None:
        from webapp.extensions import db
        from webapp.models import Story
        from webapp.services import backends
        from webapp.services.indexing import document_for

        with app.app_context():
            backends.search_index().upsert(document_for(db.session.get(Story, story_id)))

    return run
