"""The submission form (works without JavaScript), the private status page it leads to, and the
removal (takedown) request form anyone can use.

A story handed in by a student is attached to their class, so their teacher reviews it first.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from schemas import FieldError
from webapp import labels
from webapp.auth import current_person
from webapp.errors import PassagesError, ValidationFailed
from webapp.identifiers import parse_id
from webapp.media import recording
from webapp.media.imaging import accepted_mime_types
from webapp.presenters import media_state_label, media_states
from webapp.services import audit, backends, consent, erasure, idempotency, submissions
from webapp.unit_of_work import unit_of_work

bp = Blueprint("submit", __name__)

#: The licences offered, in the schema's order, named from the one translated table.
LICENCES = list(labels.LICENCE.items())

#: What the form's script lets through before sending (the server still sniffs every file).
ACCEPTED_TYPES = accepted_mime_types() + list(recording.BROWSER_MIME_TYPES)


def _split(text: str, separators: str = ",\n") -> list[str]:
    for sep in separators[1:]:
        text = text.replace(sep, separators[0])
    return [part.strip() for part in text.split(separators[0]) if part.strip()]


def metadata_from_form(form, files: int = 0) -> dict:
    """Build the same metadata document the API receives, so one schema checks both.

    ``files`` is how many files were sent: each gets the consent of the person recorded in it
    (``recording_consents``) from its own fields (``rec<n>_…``, written by the form's script) or
    else from the form-wide section, which applies to every recording (entries for images are
    ignored by the service).
    """
    metadata: dict = {
        "title": form.get("title", ""),
        "body": form.get("body", ""),
        "language": form.get("language", "").strip(),
        "places": _split(form.get("places", "")),
        "themes": _split(form.get("themes", "")),
        "licence": form.get("licence", ""),
        "consent": {"contributor": form.get("consent") == "yes"},
    }
    for key in ("period", "contributor_name", "credit"):
        if form.get(key, "").strip():
            metadata[key] = form[key].strip()
    alt_texts = [line.strip() for line in form.get("alt_texts", "").splitlines()]
    if any(alt_texts):
        metadata["alt_texts"] = alt_texts
    if form.get("minor") == "yes":
        metadata["consent"]["minor"] = True
    for_all = _recording_consent(form, "rec_")
    entries = [
        _recording_consent(form, f"rec{n}_") if form.get(f"rec{n}") == "yes" else for_all
        for n in range(files)
    ]
    if any(entries):
        metadata["recording_consents"] = entries
    return metadata


def _recording_consent(form, prefix: str) -> dict | None:
    """One file's consent fields as the schema's ``recording_consent`` (None: left empty)."""
    person = form.get(prefix + "person", "").strip()
    given = form.get(prefix + "consent") == "yes"
    minor = form.get(prefix + "minor") == "yes"
    if not (person or given or minor):
        return None
    entry: dict = {"person": person, "consent": given, "minor": minor}
    if minor and form.get(prefix + "guardian_consent") == "yes":
        guardian = form.get(prefix + "guardian", "").strip()
        if not guardian:
            raise ValidationFailed(
                [
                    FieldError(
                        prefix + "guardian",
                        _("Write who gave the parent’s or guardian’s consent, and how."),
                    )
                ]
            )
        entry["guardian_by"] = guardian
    return entry


def check_descriptions(
    images: list[submissions.IncomingImage], form, kinds: Sequence[str] | None = None
) -> None:
    """Every image sent through the form needs its description (alternative text).

    Only the web form requires it: the API contract keeps ``alt_texts`` optional for importers,
    whose archivists add descriptions afterwards. Line *n* of the field describes file *n*.
    ``kinds`` (once the files are recognised) leaves recordings out: a sound or a film is not
    described in a line for people who cannot see it, its transcript and captions do that.
    """
    lines = [line.strip() for line in form.get("alt_texts", "").splitlines()]
    missing = [
        FieldError(
            "alt_texts",
            _(
                "Describe the image “%(name)s” (line %(line)s of the descriptions) for people "
                "who cannot see it.",
                name=image.filename,
                line=n + 1,
            ),
        )
        for n, image in enumerate(images)
        if (n >= len(lines) or not lines[n]) and (kinds is None or kinds[n] == "image")
    ]
    if missing:
        raise ValidationFailed(missing)


@bp.route("/submit", methods=["GET", "POST"])
def submit_form():
    if request.method == "GET":
        return _form_page(form={}, error=None)
    images = [
        submissions.IncomingFile(filename=f.filename or "", stream=f.stream)
        for name, f in request.files.items(multi=True)
        if name in ("images", "files") and f.filename
    ]
    submitter = current_person()
    as_draft = request.form.get("draft") == "yes" and submitter is not None
    try:
        # The form's hidden key: a double click or a resend after a lost answer hands in once.
        key = idempotency.check_key(
            request.form.get(idempotency.FORM_FIELD), field=idempotency.FORM_FIELD
        )
        if key is not None:
            caller = idempotency.caller_for(submitter)
            request_fingerprint = idempotency.fingerprint(
                "POST /submit",
                [
                    f"{name}={value}"
                    for name, value in sorted(request.form.items(multi=True))
                    if name != "csrf_token"
                ],
                [f"{i.filename}:{idempotency.stream_digest(i.stream)}" for i in images],
            )
            if (first := idempotency.find(caller, key, request_fingerprint)) is not None:
                return redirect(first.response["location"], code=first.status_code)
        with unit_of_work() as uow:
            story = submissions.submit_story(
                uow,
                metadata_from_form(request.form, len(images)),
                images,
                submitter=submitter,
                persons_identifiable=request.form.get("persons_identifiable") == "yes",
                as_draft=as_draft,
                check_kinds=lambda kinds: check_descriptions(images, request.form, kinds),
            )
            # Without an account, the story waits in quarantine (webapp.services.quarantine).
            story.quarantined = submitter is None
            if as_draft:
                location = url_for("accounts.me")
            else:
                location = url_for("submit.status", token=story.status_token)
            if key is not None:
                idempotency.remember(
                    uow, caller, key, request_fingerprint, 303, {"location": location}, story.id
                )
    except PassagesError as exc:
        details = getattr(exc, "errors", None) or []
        return _form_page(form=request.form, error=exc, details=details), exc.status
    except IntegrityError:
        # A double click: the other request with this key committed first (the unit of work
        # has rolled this one back); follow it.
        if key is None or (first := idempotency.find(caller, key, request_fingerprint)) is None:
            raise
        return redirect(first.response["location"], code=first.status_code)
    if as_draft:
        flash(_("Saved as a draft: find it in “My space” to finish it and hand it in."), "success")
    return redirect(location, code=303)


def _form_page(**context):
    """The form, with a fresh idempotency key (each rendering is one intended hand-in)."""
    settings = backends.settings()
    return render_template(
        "submit.html",
        licences=LICENCES,
        max_images=settings.max_images,
        max_upload_mb=settings.max_upload_mb,
        max_recording_mb=settings.max_recording_mb,
        accepted_types=ACCEPTED_TYPES,
        idempotency_key=request.form.get(idempotency.FORM_FIELD) or secrets.token_urlsafe(24),
        **context,
    )


@bp.get("/status/<token>")
def status(token: str):
    story = submissions.find_by_status_token(token)
    if story is None:
        return render_template("error.html", status=404, message=_("This link is not valid.")), 404
    return render_template(
        "status.html",
        story=story,
        token=token,
        guardian=consent.guardian_state(story).value,
        history=audit.story_history(story.id, moves_only=True),
        media_state_label=media_state_label,
    )


@bp.get("/status/<token>/media.json")
def status_media(token: str):
    """The status page's images, polled by it: same rule as the page (the status link)."""
    story = submissions.find_by_status_token(token)
    if story is None:
        return jsonify({"error": {"code": "not_found", "message": "This link is not valid."}}), 404
    response = jsonify(media_states(story, token))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/takedown", methods=["GET", "POST"])
def takedown():
    """Ask for a story to be removed; an archivist reads every request."""
    form = request.form if request.method == "POST" else request.args
    if request.method == "POST":
        raw_id = (form.get("story_id") or "").strip().lstrip("#")
        try:
            with unit_of_work() as uow:
                erasure.request_takedown(
                    uow,
                    parse_id(raw_id),
                    form.get("reason", ""),
                    requester=current_person(),
                    name=form.get("name", ""),
                    contact=form.get("contact", ""),
                    erasure=form.get("erasure") == "yes",
                )
        except PassagesError as exc:
            flash(exc.message, "error")
            return render_template("moderation/takedown.html", form=form), exc.status
        return render_template("moderation/takedown.html", form={}, sent=True)
    return render_template("moderation/takedown.html", form=form, sent=False)
