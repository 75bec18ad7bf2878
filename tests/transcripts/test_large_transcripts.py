"""A transcript of many hours is stored, replaced, served and indexed with as many database
statements as a short one: the worker and the request are not held for each of its lines
(bench/transcripts.py measures a 45,000-cue file)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


def _vtt(cues: int) -> bytes:
    from webapp.media.timedtext import format_timestamp

    lines = ["WEBVTT", ""]
    for n in range(cues):
        start, end = n * 2000, n * 2000 + 3000  # overlapping: two voices at once
        timing = f"{format_timestamp(start)} --> {format_timestamp(end)}"
        lines += [timing, f"<v Fatima>ligne {n} à Orly", ""]
    return "\n".join(lines).encode()


@contextmanager
def _statements(app) -> Iterator[list[str]]:
    from sqlalchemy import event

    from webapp.extensions import db

    seen: list[str] = []

    def count(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _work(app, media_id: int, story_id: int, archivist_id: int, data: bytes) -> None:
    """Attach (or replace) the transcript, serve it, and build the story's index document."""
    from webapp.extensions import db
    from webapp.models import Story, User
    from webapp.services import transcripts
    from webapp.services.indexing import document_for
    from webapp.unit_of_work import unit_of_work

    with app.test_request_context():
        with unit_of_work() as uow:
            attached = transcripts.attach_file(
                uow, media_id, "fr", data, db.session.get(User, archivist_id)
            )
            assert attached.cue_count == data.count(b"-->")
        db.session.remove()
        assert transcripts.public_transcript_vtt(media_id, "fr").text.count("-->") == data.count(
            b"-->"
        )
        document = document_for(db.session.get(Story, story_id))
        assert len(document.moments) == data.count(b"-->")
        db.session.remove()


def test_a_long_transcript_costs_the_same_statements_as_a_short_one(app, recorded_story, make_user):
    story_id, media_id = recorded_story()
    archivist = make_user("archivist")
    counts = []
    for cues in (3, 1500):
        with _statements(app) as seen:
            _work(app, media_id, story_id, archivist, _vtt(cues))  # attach
            _work(app, media_id, story_id, archivist, _vtt(cues))  # replace
        counts.append(len(seen))
    assert counts[0] == counts[1], counts
