"""The archivist's screen for publishing an archive document (``/curation/documents/new``).

A document is handed in through the same submission service as any story, with
``"kind": "document"`` and its provenance, and then published from the review page like any
story; its description (and provenance) are corrected on that page too. Only archivists and
admins reach these views.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from webapp.auth import current_person
from webapp.blueprints.submit import LICENCES, check_descriptions, metadata_from_form
from webapp.errors import PassagesError
from webapp.services import access, submissions
from webapp.unit_of_work import unit_of_work

bp = Blueprint("documents", __name__, url_prefix="/curation/documents")


@bp.before_request
def _archivists_only():
    access.require_archivist(current_person())


def document_metadata_from_form(form) -> dict:
    """The API's metadata document for an archive document, from the form's fields."""
    metadata = metadata_from_form(form)
    metadata["kind"] = "document"
    metadata["consent"] = {"contributor": form.get("rights") == "yes"}
    metadata["source"] = {
        key: form.get(f"source_{key}", "").strip()
        for key in ("institution", "reference", "fonds", "producer")
        if form.get(f"source_{key}", "").strip()
    }
    return metadata


@bp.route("/new", methods=["GET", "POST"])
def new_document():
    if request.method == "GET":
        return render_template("curation/document.html", form={}, licences=LICENCES, error=None)
    images = [
        submissions.IncomingImage(filename=f.filename or "", stream=f.stream)
        for f in request.files.getlist("images")
        if f.filename
    ]
    try:
        check_descriptions(images, request.form)
        with unit_of_work() as uow:
            story = submissions.submit_story(
                uow, document_metadata_from_form(request.form), images, submitter=current_person()
            )
    except PassagesError as exc:
        details = getattr(exc, "errors", None) or []
        page = render_template(
            "curation/document.html",
            form=request.form,
            licences=LICENCES,
            error=exc,
            details=details,
        )
        return page, exc.status
    flash(_("Document saved. Check it, then publish it."), "success")
    return redirect(url_for("moderation.story", story_id=story.id), code=303)
