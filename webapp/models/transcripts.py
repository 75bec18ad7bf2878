"""Transcripts, index points and the recorded person's consent: what is said in a recording.

A recording (an audio or video ``MediaAsset``) has at most one transcript per language, made of
timed cues, and any number of index points (the oral-history tradition's segments: a time, a
title, keywords, a short summary). ``RecordingConsent`` holds the consent of the person whose
voice or face the recording carries, and a guardian's when that person is a minor: publication
waits for it as it waits for clearing identifiable persons in photos. Rows only: who may change
them and what a change triggers is ``webapp.services.transcripts``; erasure deletes them with
their recording (``webapp.services.erasure``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import utcnow


class Transcript(db.Model):
    """The words of one recording in one language (BCP 47 tag, canonical case)."""

    __tablename__ = "transcripts"
    __table_args__ = (UniqueConstraint("media_id", "language", name="uq_transcripts_media_lang"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    media_id: Mapped[int] = mapped_column(
        ForeignKey("media_assets.id", ondelete="CASCADE"), nullable=False, index=True
    )
    language: Mapped[str] = mapped_column(String(35), nullable=False)
    #: ``vtt``, ``srt`` or ``editor`` (typed while listening): where the cues came from.
    source: Mapped[str] = mapped_column(String(16), nullable=False, default="vtt")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    cues: Mapped[list[TranscriptCue]] = relationship(
        order_by="TranscriptCue.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class TranscriptCue(db.Model):
    """One timed line; ``text`` is WebVTT cue-text markup (``webapp.media.timedtext``)."""

    __tablename__ = "transcript_cues"

    id: Mapped[int] = mapped_column(primary_key=True)
    transcript_id: Mapped[int] = mapped_column(
        ForeignKey("transcripts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    start_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    end_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    settings: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    identifier: Mapped[str] = mapped_column(String(200), nullable=False, default="")


#: How many lines a transcript has, counted by the database when asked (``len(cues)`` would load
#: every line of a long interview as an object just to count them).
Transcript.cue_count = column_property(
    select(func.count(TranscriptCue.id))
    .where(TranscriptCue.transcript_id == Transcript.id)
    .correlate_except(TranscriptCue)
    .scalar_subquery(),
    deferred=True,
)


class IndexPoint(db.Model):
    """A segment of an interview as oral historians index it: where it starts and what it is."""

    __tablename__ = "index_points"

    id: Mapped[int] = mapped_column(primary_key=True)
    media_id: Mapped[int] = mapped_column(
        ForeignKey("media_assets.id", ondelete="CASCADE"), nullable=False, index=True
    )
    start_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    keywords: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    summary: Mapped[str] = mapped_column(Text, nullable=False, default="")


class RecordingConsent(db.Model):
    """The recorded person's consent for one recording (a voice, a face), captured with it."""

    __tablename__ = "recording_consents"

    media_id: Mapped[int] = mapped_column(
        ForeignKey("media_assets.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    #: Name or pseudonym of the person recorded, as the contributor or archivist wrote it.
    person: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    consent_given: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    #: The recorded person is a minor: a guardian's consent must be recorded too.
    minor: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    guardian_consent_by: Mapped[str | None] = mapped_column(String(200))
    guardian_consent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Who gave a guardian's consent, as the contributor declared it with the upload: it does
    #: not count until a teacher or an archivist records it (it fills their form).
    guardian_declared_by: Mapped[str | None] = mapped_column(String(200))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
