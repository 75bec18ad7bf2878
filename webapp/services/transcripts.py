"""Transcripts and index points of recordings: who may attach them, how they are stored, served
and searched.

An archivist or the story's contributor attaches a transcript to an audio or video recording,
one per language: a WebVTT or SRT file (``webapp.media.timedtext`` reads it; a bad file is
refused with the line to fix) or lines typed in the timing editor (``parse_timed_lines``). Index
points (time, title, keywords, summary) are edited the same way. Every change emits
``story.transcript_changed`` so the search worker reindexes the story through the outbox: what is
said in a recording is found by search and leads to the moment it is said. Transcripts are served
(``public_transcript``) only while their story is public. This module never commits (the
caller's unit of work does) and never decides a story's publication (``webapp.services.consent``
does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext

from webapp.errors import AuthenticationRequired, BadRequest, Forbidden, NotFound, PassagesError
from webapp.extensions import db
from webapp.media import timedtext
from webapp.media.timedtext import N_, Cue, TimedTextError
from webapp.models import (
    IndexPoint,
    MediaAsset,
    RecordingConsent,
    Role,
    Story,
    StoryStatus,
    Transcript,
    TranscriptCue,
    User,
)
from webapp.models.base import utcnow
from webapp.periods import canonical_language_tag
from webapp.services import access, audit, outbox
from webapp.unit_of_work import UnitOfWork

#: Largest transcript file accepted: a three-hour interview's WebVTT is a few hundred kilobytes.
MAX_TRANSCRIPT_BYTES = 5 * 1024 * 1024

#: Index points per recording: the oral-history tradition segments every few minutes.
MAX_INDEX_POINTS = 500

#: The same BCP 47 shape the story schema accepts for a story's language.
_LANGUAGE = re.compile(
    r"^[A-Za-z]{2,3}(-[A-Za-z]{3}){0,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?"
    r"(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*$"
)


class TranscriptRejected(PassagesError):
    """A transcript file or typed text that cannot be read; the message names the line."""

    status = 422
    code = "transcript_rejected"

    def __init__(self, message: str, *, line: int | None = None, field: str = "file") -> None:
        super().__init__(message, field=field)
        self.line = line

    def to_json(self) -> dict:
        body = super().to_json()
        if self.line is not None:
            body["error"]["line"] = self.line
        return body


@dataclass(frozen=True)
class Moment:
    """A place in a recording where something is said: what search indexes and links to."""

    media_id: int
    start: float
    text: str
    #: The language the words are in: a transcript's own (a French story may have an English
    #: transcript); empty for index points, which are in the story's language.
    language: str = ""


# --- what is a recording, who may edit -----------------------------------------------------------


def is_recording(media: MediaAsset) -> bool:
    """Audio or video: a recording may carry transcripts, index points and a recorded person."""
    kind = getattr(media, "kind", None)
    if kind:
        return kind in ("audio", "video")
    return (media.mime_type or "").startswith(("audio/", "video/"))


#: The states in which a contributor may still change what their recording says. Once the
#: archive has approved or published a story (or closed it), words said in it change only through
#: an archivist, as the story's own text does (webapp/services/editing.py).
CONTRIBUTOR_EDITABLE = frozenset(
    {
        StoryStatus.DRAFT.value,
        StoryStatus.SUBMITTED.value,
        StoryStatus.RETURNED.value,
        StoryStatus.IN_REVIEW.value,
        StoryStatus.CHANGES_REQUESTED.value,
    }
)


def may_edit(user: User | None, story: Story) -> bool:
    """Archivists (and admins) attach transcripts and index points; the story's contributor too,
    but only before the archive has approved it: a published transcript is public text, and
    public text never changes without review."""
    if user is None:
        return False
    if user.has_role(Role.ARCHIVIST, Role.ADMIN):
        return True
    return access.is_owner(user, story) and story.status in CONTRIBUTOR_EDITABLE


def recording_for_edit(media_id: int, user: User | None) -> MediaAsset:
    """The recording ``user`` may edit, else 404 (cannot see it) or 403 (may see, not edit)."""
    if user is None:
        raise AuthenticationRequired(gettext("log in (or send an API token) to change transcripts"))
    media = db.session.get(MediaAsset, media_id)
    if media is None or not is_recording(media):
        raise NotFound(gettext("no such recording"))
    access.require_view(media.story, user)
    if access.is_owner(user, media.story) and not may_edit(user, media.story):
        raise Forbidden(
            gettext(
                "this story has been approved by the archive: ask an archivist to change "
                "what its recordings say"
            )
        )
    if not may_edit(user, media.story):
        raise Forbidden(
            gettext("only an archivist or the story's contributor can change its transcripts")
        )
    return media


def recording_for_page(media_id: int, user: User | None) -> tuple[MediaAsset, bool]:
    """The recording for its editor page and whether ``user`` may change its transcripts; a
    teacher of the story, and its contributor once the archive approved it, may open it too,
    for the consent of the person recorded only (a consent can always be withdrawn)."""
    if user is None:
        raise AuthenticationRequired(gettext("log in to do this"))
    media = db.session.get(MediaAsset, media_id)
    if media is None or not is_recording(media):
        raise NotFound(gettext("no such recording"))
    story = access.require_view(media.story, user)
    if may_edit(user, story):
        return media, True
    if access.is_teacher_of(user, story) or access.is_owner(user, story):
        return media, False
    raise Forbidden(
        gettext("only an archivist or the story's contributor can change its transcripts")
    )


def timed_text_words(exc: TimedTextError) -> str:
    """Why a transcript cannot be read, in the reader's language, with the line when known
    (reasons the catalog does not hold yet stay in English rather than disappear)."""
    reason = gettext(exc.message_id, **exc.params)
    if exc.line is None:
        return reason
    return gettext("line %(line)s: %(reason)s", line=exc.line, reason=reason)


def normalise_language(value: str | None) -> str:
    """A BCP 47 tag in canonical case, or a 422 naming the ``language`` field."""
    value = (value or "").strip()
    if not value or len(value) > 35 or not _LANGUAGE.match(value):
        raise TranscriptRejected(
            gettext("give the transcript's language as a language tag: fr, ar, en, ber-Tfng…"),
            field="language",
        )
    return canonical_language_tag(value)


# --- writing -------------------------------------------------------------------------------------


def attach_file(
    uow: UnitOfWork, media_id: int, language: str | None, data: bytes, actor: User | None
) -> Transcript:
    """Attach (or replace) the transcript of ``language`` from a WebVTT or SRT file."""
    media = recording_for_edit(media_id, actor)
    tag = normalise_language(language)
    if not data:
        raise TranscriptRejected(gettext("the transcript file is empty"))
    if len(data) > MAX_TRANSCRIPT_BYTES:
        raise TranscriptRejected(
            gettext(
                "the transcript file is too large: at most %(size)s MB",
                size=MAX_TRANSCRIPT_BYTES // (1024 * 1024),
            )
        )
    try:
        cues = timedtext.parse(data)
    except TimedTextError as exc:
        raise TranscriptRejected(timed_text_words(exc), line=exc.line) from exc
    source = "vtt" if timedtext.decode(data).lstrip().startswith("WEBVTT") else "srt"
    return _store(uow, media, tag, cues, source, actor)


def attach_typed(
    uow: UnitOfWork, media_id: int, language: str | None, typed: str, actor: User | None
) -> Transcript:
    """Attach (or replace) a transcript typed in the timing editor (:func:`parse_timed_lines`)."""
    media = recording_for_edit(media_id, actor)
    tag = normalise_language(language)
    try:
        cues = parse_timed_lines(typed, duration_ms=_duration_ms(media))
    except TimedTextError as exc:
        raise TranscriptRejected(timed_text_words(exc), line=exc.line, field="text") from exc
    return _store(uow, media, tag, cues, "editor", actor)


def remove_transcript(
    uow: UnitOfWork, media_id: int, language: str | None, actor: User | None
) -> None:
    media = recording_for_edit(media_id, actor)
    tag = normalise_language(language)
    transcript = find_transcript(media.id, tag)
    if transcript is None:
        raise NotFound(gettext("this recording has no transcript in that language"))
    db.session.delete(transcript)
    _changed(uow, media, actor, "transcript.removed", {"language": tag})


def _store(
    uow: UnitOfWork,
    media: MediaAsset,
    language: str,
    cues: list[Cue],
    source: str,
    actor: User | None,
) -> Transcript:
    transcript = find_transcript(media.id, language)
    if transcript is None:
        transcript = Transcript(media_id=media.id, language=language)
        uow.add(transcript)
    transcript.source = source
    transcript.updated_by_id = actor.id if actor else None
    transcript.updated_at = utcnow()  # also when only the cues change: the track's Last-Modified
    uow.flush()
    # The cues go in as two statements, not as one ORM object each: a transcript of several
    # hours has tens of thousands of lines, and objects made, tracked and flushed one by one
    # (and, on a replacement, the old ones loaded and deleted one by one) held a worker for
    # most of a minute (bench/transcripts.py).
    db.session.execute(db.delete(TranscriptCue).where(TranscriptCue.transcript_id == transcript.id))
    if cues:
        db.session.execute(
            TranscriptCue.__table__.insert(),  # Core: no ORM bookkeeping per row
            [
                {
                    "transcript_id": transcript.id,
                    "position": n,
                    "start_ms": cue.start_ms,
                    "end_ms": cue.end_ms,
                    "text": cue.text,
                    "settings": cue.settings[:200],
                    "identifier": cue.identifier[:200],
                }
                for n, cue in enumerate(cues)
            ],
        )
    db.session.expire(transcript, ["cues", "cue_count"])
    _changed(
        uow,
        media,
        actor,
        "transcript.attached",
        {"language": language, "cues": len(cues), "source": source},
    )
    return transcript


_TIMED_LINE = re.compile(r"^\[?\s*((?:\d{1,3}:)?\d{1,2}:\d{1,2}(?:[.,]\d{1,3})?)\s*\]?\s*(.*)$")

#: How long the last typed line lasts when the recording's duration is unknown.
LAST_LINE_MS = 5000


def parse_timed_lines(typed: str, duration_ms: int | None = None) -> list[Cue]:
    """Lines typed while listening: ``00:12 Je suis arrivée à Orly`` (``[00:12]`` and
    ``00:00:12.500`` too). Each line lasts until the next one starts; blank lines are skipped;
    a line without its time is refused with its number, so nothing typed is silently lost."""
    entries: list[tuple[int, str, int]] = []
    for number, raw in enumerate(typed.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        line = raw.strip()
        if not line:
            continue
        match = _TIMED_LINE.match(line)
        if match is None:
            raise TimedTextError(
                N_(
                    "start the line with the moment it is said, for example 01:05 (press "
                    "'Mark the time' while listening)"
                ),
                number,
            )
        start = timedtext.parse_timestamp(match.group(1), number)
        text = match.group(2).strip()
        if not text:
            raise TimedTextError(N_("write what is said after the time"), number)
        entries.append((start, text, number))
    if not entries:
        raise TimedTextError(N_("type at least one line, starting with its time"))
    entries.sort(key=lambda e: e[0])
    cues = []
    for n, (start, text, _number) in enumerate(entries):
        if n + 1 < len(entries):
            end = max(start, entries[n + 1][0])
        else:
            end = max(start + 1000, duration_ms or start + LAST_LINE_MS)
        cues.append(Cue(start, end, timedtext.cue_text_from_plain(text)))
    return cues


def typed_lines(transcript: Transcript) -> str:
    """A stored transcript as the editor shows it: one ``mm:ss.mmm text`` line per cue."""
    return "\n".join(
        f"{_clock(start_ms)} {timedtext.plain_text(text)}"
        for start_ms, _end_ms, text, _settings, _identifier in _cue_rows(transcript.id)
    )


def _clock(millis: int) -> str:
    seconds, ms = divmod(millis, 1000)
    minutes, secs = divmod(seconds, 60)
    hours, mins = divmod(minutes, 60)
    head = f"{hours:02d}:{mins:02d}:{secs:02d}" if hours else f"{mins:02d}:{secs:02d}"
    return f"{head}.{ms:03d}" if ms else head


def clock(seconds: float) -> str:
    """Seconds as the ``mm:ss`` (``h:mm:ss`` past an hour) a person reads and ``#t=`` takes."""
    total = int(seconds)
    minutes, secs = divmod(total, 60)
    hours, mins = divmod(minutes, 60)
    return f"{hours}:{mins:02d}:{secs:02d}" if hours else f"{mins:02d}:{secs:02d}"


def moment_anchor(media_id: int, seconds: float) -> str:
    """The fragment that opens a story page at a moment of one of its recordings:
    ``t=mm:ss&media=<id>`` (the page's player.js seeks that recording there; a story may have
    several). A plain ``t=mm:ss`` still works and means the page's first recording."""
    return f"t={clock(seconds)}&media={int(media_id)}"


@dataclass(frozen=True)
class IndexPointInput:
    """One index point as a form or a client sends it (time as text)."""

    time: str
    title: str
    keywords: str = ""
    summary: str = ""


def set_index_points(
    uow: UnitOfWork, media_id: int, points: list[IndexPointInput], actor: User | None
) -> list[IndexPoint]:
    """Replace the recording's index points. Rows without a title or time are left out (empty
    rows of the form); a row with a title but a bad time is refused, naming the row."""
    media = recording_for_edit(media_id, actor)
    rows: list[IndexPoint] = []
    for number, point in enumerate(points, start=1):
        title = " ".join((point.title or "").split())
        time_text = (point.time or "").strip()
        if not title and not time_text:
            continue
        if not title:
            raise BadRequest(
                gettext("index point %(number)s: give it a title", number=number), field="title"
            )
        if not time_text:
            raise BadRequest(
                gettext("index point %(number)s: give the time it starts", number=number),
                field="time",
            )
        try:
            start = timedtext.parse_timestamp(time_text)
        except TimedTextError as exc:
            raise BadRequest(
                gettext(
                    "index point %(number)s: %(reason)s",
                    number=number,
                    reason=gettext(exc.message_id, **exc.params),
                ),
                field="time",
            ) from exc
        keywords = [k for k in (" ".join(w.split()) for w in point.keywords.split(",")) if k]
        rows.append(
            IndexPoint(
                media_id=media.id,
                start_ms=start,
                title=title[:300],
                keywords=[k[:100] for k in keywords[:30]],
                summary=(point.summary or "").strip()[:5000],
            )
        )
    if len(rows) > MAX_INDEX_POINTS:
        raise BadRequest(
            gettext("at most %(count)s index points per recording", count=MAX_INDEX_POINTS),
            field="title",
        )
    db.session.execute(db.delete(IndexPoint).where(IndexPoint.media_id == media.id))
    for row in rows:
        uow.add(row)
    uow.flush()
    _changed(uow, media, actor, "index_points.saved", {"count": len(rows)})
    return sorted(rows, key=lambda r: r.start_ms)


def _changed(
    uow: UnitOfWork, media: MediaAsset, actor: User | None, action: str, details: dict
) -> None:
    """One audit entry about the story (erasure blanks those) and the reindex event."""
    audit.record(
        f"story.{action}", "story", media.story_id, actor=actor, details={"media_id": media.id,
                                                                         **details}
    )  # fmt: skip
    outbox.emit("story.transcript_changed", {"story_id": media.story_id, "media_id": media.id})


def delete_for_media(media_ids: list[int]) -> None:
    """Erasure: every transcript, cue, index point and consent record of these recordings."""
    if not media_ids:
        return
    transcript_ids = db.select(Transcript.id).where(Transcript.media_id.in_(media_ids))
    db.session.execute(
        db.delete(TranscriptCue).where(TranscriptCue.transcript_id.in_(transcript_ids))
    )
    for model in (Transcript, IndexPoint, RecordingConsent):
        db.session.execute(db.delete(model).where(model.media_id.in_(media_ids)))


# --- reading -------------------------------------------------------------------------------------


def find_transcript(media_id: int, language: str) -> Transcript | None:
    return db.session.scalar(
        db.select(Transcript).where(
            Transcript.media_id == media_id, Transcript.language == language
        )
    )


def transcripts_of(media_id: int) -> list[Transcript]:
    """Every transcript of a recording, by language."""
    return list(
        db.session.scalars(
            db.select(Transcript)
            .where(Transcript.media_id == media_id)
            .order_by(Transcript.language)
        )
    )


def index_points_of(media_id: int) -> list[IndexPoint]:
    return db.session.scalars(
        db.select(IndexPoint)
        .where(IndexPoint.media_id == media_id)
        .order_by(IndexPoint.start_ms, IndexPoint.id)
    ).all()


def public_recording(media_id: int) -> MediaAsset:
    """A recording whose story is public, else 404 (the same for unknown and unpublished)."""
    media = db.session.get(MediaAsset, media_id)
    if media is None or not is_recording(media) or not media.story.is_public:
        raise NotFound(gettext("no such recording"))
    return media


@dataclass(frozen=True)
class Track:
    """A WebVTT track as served: its text and when what it says last changed (``None`` when
    unknown), for the response's ``Last-Modified``."""

    text: str
    updated_at: datetime | None


def public_transcript_vtt(media_id: int, language: str) -> Track:
    """The WebVTT of a public recording's transcript (captions, the text beside the player)."""
    media = public_recording(media_id)
    transcript = find_transcript(media.id, canonical_language_tag(language))
    if transcript is None:
        raise NotFound(gettext("this recording has no transcript in that language"))
    return Track(timedtext.to_webvtt(_cues(transcript)), transcript.updated_at)


def public_chapters_vtt(media_id: int) -> Track:
    """The index points of a public recording as a WebVTT chapters track (``kind=chapters``):
    each chapter runs until the next one, the last until the recording ends."""
    media = public_recording(media_id)
    return Track(timedtext.to_webvtt(chapter_cues(media)), None)


def chapter_cues(media: MediaAsset) -> list[Cue]:
    points = index_points_of(media.id)
    end_of_media = _duration_ms(media)
    cues = []
    for n, point in enumerate(points):
        if n + 1 < len(points):
            end = points[n + 1].start_ms
        else:
            end = end_of_media if end_of_media and end_of_media > point.start_ms else None
            end = end or point.start_ms + 60_000
        cues.append(Cue(point.start_ms, max(end, point.start_ms), timedtext.cue_text_from_plain(
            point.title)))  # fmt: skip
    return cues


def _cues(transcript: Transcript) -> list[Cue]:
    return [Cue(*row) for row in _cue_rows(transcript.id)]


def _cue_rows(transcript_id: int) -> list[tuple[int, int, str, str, str]]:
    """A transcript's lines in order as plain rows (start, end, text, settings, identifier):
    reading tens of thousands of lines as ORM objects cost seconds on every read."""
    return [
        tuple(row)
        for row in db.session.execute(
            db.select(
                TranscriptCue.start_ms,
                TranscriptCue.end_ms,
                TranscriptCue.text,
                TranscriptCue.settings,
                TranscriptCue.identifier,
            )
            .where(TranscriptCue.transcript_id == transcript_id)
            .order_by(TranscriptCue.position)
        )
    ]


def _duration_ms(media: MediaAsset) -> int | None:
    duration = getattr(media, "duration", None)
    return int(duration * 1000) if duration else None


def moments_of(story: Story) -> list[Moment]:
    """Everything said in the story's recordings, with where: each cue of each transcript and
    each index point (title, keywords, summary). Search indexes these with the story."""
    moments: list[Moment] = []
    recordings = [m for m in story.media if is_recording(m)]
    for media in recordings:
        for point in index_points_of(media.id):
            words = " ".join([point.title, *point.keywords, point.summary])
            moments.append(Moment(media.id, point.start_ms / 1000, words))
        for transcript in transcripts_of(media.id):
            for start_ms, _end_ms, cue_text, _settings, _identifier in _cue_rows(transcript.id):
                text = timedtext.plain_text(cue_text)
                if text:
                    moments.append(Moment(media.id, start_ms / 1000, text, transcript.language))
    return moments


@dataclass(frozen=True)
class CueView:
    """A transcript line as the page shows it beside the player."""

    start: float
    end: float
    text: str
    speaker: str | None


@dataclass(frozen=True)
class TranscriptView:
    language: str
    cues: list[CueView]


@dataclass(frozen=True)
class RecordingView:
    """Everything the player needs for one recording: transcripts and index points."""

    media: MediaAsset
    transcripts: list[TranscriptView]
    points: list[IndexPoint]


def recording_views(story: Story) -> dict[int, RecordingView]:
    """The story's recordings by media id, with their transcripts (the story's language first)
    and index points, for the player on its page. Visibility is the caller's check."""
    views: dict[int, RecordingView] = {}
    for media in story.media:
        if not is_recording(media):
            continue
        found = transcripts_of(media.id)
        found.sort(key=lambda t: (t.language != story.language, t.language))
        views[media.id] = RecordingView(
            media=media,
            transcripts=[
                TranscriptView(
                    t.language,
                    [
                        CueView(
                            start_ms / 1000,
                            end_ms / 1000,
                            timedtext.plain_text(text),
                            timedtext.speaker(text),
                        )
                        for start_ms, end_ms, text, _settings, _identifier in _cue_rows(t.id)
                    ],
                )
                for t in found
            ],
            points=index_points_of(media.id),
        )
    return views
