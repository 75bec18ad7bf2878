"""Recordings' transcripts, index points and consent: the public WebVTT tracks and the editor.

The WebVTT addresses (``/media/<id>/transcripts/<language>.vtt``, ``/media/<id>/chapters.vtt``)
answer only while the story is public, for everyone alike; the player's caption and chapter
tracks and the transcript beside it read them. The editor (``/recordings/<id>/edit``) lets an
archivist or the story's contributor upload a transcript file, type one while listening, edit
index points and record the recorded person's consent. Thin views: the rules are in
``webapp.services.transcripts`` and ``webapp.services.consent``.
"""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from webapp import freshness
from webapp.auth import current_person
from webapp.errors import PassagesError
from webapp.services import consent, transcripts
from webapp.unit_of_work import unit_of_work

bp = Blueprint("recordings", __name__)


@bp.app_template_test("recording")
def _is_recording(media) -> bool:
    """``{% if media is recording %}``: audio or video, which has transcripts and a consent."""
    return transcripts.is_recording(media)


def _vtt(track: transcripts.Track) -> Response:
    response = Response(track.text, mimetype="text/vtt")
    # A few seconds, then revalidated by its ETag (a 304 costs nothing), so that a story
    # withdrawn from publication stops being served within seconds.
    freshness.keep_briefly(response)
    # Players on other sites (IIIF viewers, the archive's partners) may load the captions.
    response.headers["Access-Control-Allow-Origin"] = "*"
    if track.updated_at is not None:
        response.last_modified = track.updated_at
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/media/<int:media_id>/transcripts/<language>.vtt")
def transcript_vtt(media_id: int, language: str):
    return _vtt(transcripts.public_transcript_vtt(media_id, language))


@bp.get("/media/<int:media_id>/chapters.vtt")
def chapters_vtt(media_id: int):
    return _vtt(transcripts.public_chapters_vtt(media_id))


def _editor_url(media_id: int, language: str | None = None) -> str:
    return url_for("recordings.edit", media_id=media_id, language=language or None)


@bp.get("/recordings/<int:media_id>/edit")
@login_required
def edit(media_id: int):
    user = current_person()
    media, can_transcribe = transcripts.recording_for_page(media_id, user)
    existing = transcripts.transcripts_of(media.id)
    language = request.args.get("language") or (
        existing[0].language if existing else media.story.language
    )
    typed = ""
    for transcript in existing:
        if transcript.language == language:
            typed = transcripts.typed_lines(transcript)
    return _editor(media, language, typed, can_transcribe)


def _editor(media, language: str, typed: str, can_transcribe: bool):
    """The editor page: consent of the person recorded; transcripts and index points for those
    who may change them."""
    return render_template(
        "recordings/edit.html",
        media=media,
        story=media.story,
        existing=transcripts.transcripts_of(media.id),
        language=language,
        typed=typed,
        points=transcripts.index_points_of(media.id),
        recording_consent=consent.recording_consent(media.id),
        consent_blockers=consent.recording_blockers(media),
        may_record_guardian=consent.may_record_guardian(current_person(), media.story),
        can_transcribe=can_transcribe,
        clock=transcripts.clock,
    )


@bp.post("/recordings/<int:media_id>/transcript-file")
@login_required
def upload(media_id: int):
    language = request.form.get("language")
    part = request.files.get("file")
    data = part.stream.read(transcripts.MAX_TRANSCRIPT_BYTES + 1) if part else b""
    try:
        with unit_of_work() as uow:
            transcript = transcripts.attach_file(uow, media_id, language, data, current_person())
            language = transcript.language
            count = transcript.cue_count
        flash(_("Transcript saved: %(count)d lines.", count=count), "success")
    except PassagesError as exc:
        flash(_("The transcript was not saved: %(reason)s", reason=exc.message), "error")
    return redirect(_editor_url(media_id, language), code=303)


@bp.post("/recordings/<int:media_id>/transcript-text")
@login_required
def typed(media_id: int):
    language = request.form.get("language")
    text = request.form.get("text") or ""
    try:
        with unit_of_work() as uow:
            transcript = transcripts.attach_typed(uow, media_id, language, text, current_person())
            language = transcript.language
            count = transcript.cue_count
        flash(_("Transcript saved: %(count)d lines.", count=count), "success")
        return redirect(_editor_url(media_id, language), code=303)
    except PassagesError as exc:
        flash(_("The transcript was not saved: %(reason)s", reason=exc.message), "error")
        # What was typed comes back in the editor: nothing typed is lost.
        media = transcripts.recording_for_edit(media_id, current_person())
        return _editor(media, language or media.story.language, text, True), 422


@bp.post("/recordings/<int:media_id>/transcript-removal")
@login_required
def remove(media_id: int):
    try:
        with unit_of_work() as uow:
            transcripts.remove_transcript(
                uow, media_id, request.form.get("language"), current_person()
            )
        flash(_("Transcript removed."), "success")
    except PassagesError as exc:
        flash(exc.message, "error")
    return redirect(_editor_url(media_id), code=303)


@bp.post("/recordings/<int:media_id>/index-points")
@login_required
def index_points(media_id: int):
    form = request.form
    points = [
        transcripts.IndexPointInput(time=t, title=title, keywords=k, summary=s)
        for t, title, k, s in zip(
            form.getlist("time"),
            form.getlist("title"),
            form.getlist("keywords"),
            form.getlist("summary"),
            strict=False,
        )
    ]
    try:
        with unit_of_work() as uow:
            saved = transcripts.set_index_points(uow, media_id, points, current_person())
            count = len(saved)
        flash(_("Index points saved: %(count)d.", count=count), "success")
    except PassagesError as exc:
        flash(_("The index points were not saved: %(reason)s", reason=exc.message), "error")
    return redirect(_editor_url(media_id) + "#index-points", code=303)


@bp.post("/recordings/<int:media_id>/consent")
@login_required
def recording_consent(media_id: int):
    form = request.form
    try:
        with unit_of_work() as uow:
            consent.record_recording_consent(
                uow,
                media_id,
                person=form.get("person") or "",
                given="consent_given" in form,
                minor="minor" in form,
                guardian_by=form.get("guardian_by") or "",
                actor=current_person(),
            )
        flash(_("Consent of the person recorded saved."), "success")
    except PassagesError as exc:
        flash(exc.message, "error")
    return redirect(_editor_url(media_id) + "#consent", code=303)
