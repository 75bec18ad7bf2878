"""Large transcripts: what a 45,000-cue WebVTT costs on its way in (parse, store, index).

Usage (from the repository root)::

    .venv/bin/python bench/transcripts.py [--cues 45000] [--repeat 1]

It builds a throw-away app (SQLite, local store, embedded index) in a temporary folder, makes a
published story with one audio recording, generates a WebVTT file of ``--cues`` overlapping,
accented cues with voice tags, and times each stage of the path a real upload takes:

- ``parse``: ``timedtext.parse`` of the bytes;
- ``attach``: ``transcripts.attach_file`` in its unit of work, commit included (the view's work);
- ``replace``: the same file attached again (a corrected transcript replaces the old one);
- ``document``: ``indexing.document_for`` (what the search worker reads from the database);
- ``index``: the index upsert of that document (analysis of every line, the writer's commit);
- ``vtt``: ``public_transcript_vtt`` (what the captions track serves).

It prints wall-clock and CPU seconds per stage (CPU time is the figure a loaded machine does
not inflate) and the load average, as the table in bench/RESULTS.md shows. It must never be
imported by the application.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


#: 5,000 distinct words (an interview of many hours uses a few thousand).
_VOCABULARY = [f"arrivée{n:x}" if n % 3 else f"orly{n}" for n in range(5000)]


def make_vtt(cues: int) -> bytes:
    """``cues`` cues, two seconds each, overlapping every tenth one, four words from a 5,000-word
    vocabulary and an Arabic phrase each, with voice tags."""
    lines = ["WEBVTT", ""]
    for n in range(cues):
        start = n * 2000
        end = start + (3000 if n % 10 == 0 else 1900)
        lines.append(f"{_ts(start)} --> {_ts(end)}")
        voice = "Fatima" if n % 2 else "Enquêtrice"
        words = " ".join(_VOCABULARY[(n * 7 + k * 131) % len(_VOCABULARY)] for k in range(4))
        lines.append(f"<v {voice}>{words} أمي")
        lines.append("")
    return "\n".join(lines).encode()


def _ts(millis: int) -> str:
    seconds, ms = divmod(millis, 1000)
    minutes, secs = divmod(seconds, 60)
    hours, mins = divmod(minutes, 60)
    return f"{hours:02d}:{mins:02d}:{secs:02d}.{ms:03d}"


def _timed(label: str, results: dict[str, tuple[float, float]], run) -> object:
    """Run ``run``; keep its wall-clock and CPU seconds (CPU does not depend on the load)."""
    started, cpu = time.perf_counter(), time.process_time()
    value = run()
    results[label] = (time.perf_counter() - started, time.process_time() - cpu)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cues", type=int, default=45_000)
    args = parser.parse_args()

    from tests.conftest import _dispose, build_app, create_user_now
    from webapp.extensions import db
    from webapp.media import timedtext
    from webapp.models import MediaAsset, RecordingConsent, Story, User
    from webapp.services import backends, transcripts
    from webapp.services.indexing import document_for
    from webapp.unit_of_work import unit_of_work

    folder = Path(tempfile.mkdtemp(prefix="bench-transcripts-"))
    app = build_app(folder / "data", SERVER_NAME="passages.test")
    data = make_vtt(args.cues)
    results: dict[str, tuple[float, float]] = {}
    try:
        with app.app_context():
            story = Story(
                title="Entretien",
                body="Un long entretien.",
                language="fr",
                places=["Vitry-sur-Seine"],
                themes=["famille"],
                licence="CC-BY-4.0",
                consent={"contributor": True},
                status="published",
            )
            media = MediaAsset(
                position=0,
                original_key=f"originals/sha256/{1:064x}",
                sha256=f"{1:064x}",
                mime_type="audio/mp4",
                kind="audio",
                byte_size=1000,
                original_filename="long.m4a",
                state="ready",
                derivatives={},
            )
            story.media.append(media)
            db.session.add(story)
            db.session.flush()
            db.session.add(RecordingConsent(media_id=media.id, person="F", consent_given=True))
            db.session.commit()
            story_id, media_id = story.id, media.id
            archivist_id = create_user_now("bench-archivist@example.org", "archivist")[0].id

        with app.test_request_context():
            _timed("parse", results, lambda: timedtext.parse(data))

            def attach() -> None:
                with unit_of_work() as uow:
                    archivist = db.session.get(User, archivist_id)
                    transcripts.attach_file(uow, media_id, "fr", data, archivist)

            _timed("attach", results, attach)
            db.session.remove()
            _timed("replace", results, attach)
            db.session.remove()
            document = _timed(
                "document", results, lambda: document_for(db.session.get(Story, story_id))
            )
            _timed("index", results, lambda: backends.search_index().upsert(document))
            db.session.remove()
            _timed("vtt", results, lambda: transcripts.public_transcript_vtt(media_id, "fr").text)
    finally:
        _dispose(app)
        shutil.rmtree(folder, ignore_errors=True)

    print(f"cues: {args.cues}; file: {len(data) / 1e6:.1f} MB; cores: {os.cpu_count()}; "
          f"load average: {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"{'stage':<12} {'wall s':>8} {'cpu s':>8}")
    for label, (wall, cpu) in results.items():
        print(f"{label:<12} {wall:8.2f} {cpu:8.2f}")
    path = ("attach", "document", "index")
    wall, cpu = (sum(results[s][i] for s in path) for i in (0, 1))
    print(f"{'upload+index':<12} {wall:8.2f} {cpu:8.2f}  (attach + document + index)")


if __name__ == "__main__":
    main()
