"""Teaching dossiers: their public pages and teacher's sheet, and the archivists' screens.

The public pages show published dossiers only, and in them published documents only
(``webapp.services.dossiers``). The staff screens (``/curation/dossiers/``) are for archivists:
every view there asks ``access.require_archivist`` first. Reordering works with plain forms.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from webapp.auth import current_person
from webapp.errors import PassagesError
from webapp.identifiers import parse_id
from webapp.services import access
from webapp.services import dossiers as service
from webapp.unit_of_work import unit_of_work

bp = Blueprint("dossiers", __name__)


# --- public pages -------------------------------------------------------------------------------


@bp.get("/dossiers/")
def index():
    return render_template("dossiers/index.html", dossiers=service.public_dossiers())


def _public_context(slug: str) -> dict:
    dossier = service.get_public_dossier(slug)
    return {
        "dossier": dossier,
        "documents": service.public_documents(dossier),
        "questions": service.questions_of(dossier),
        "introduction": service.rendered(dossier.introduction),
        "teacher_context": service.rendered(dossier.teacher_context),
        "guidance": service.rendered(dossier.guidance),
    }


@bp.get("/dossiers/<slug>")
def show(slug: str):
    return render_template("dossiers/show.html", **_public_context(slug))


@bp.get("/dossiers/<slug>/sheet")
def sheet(slug: str):
    """The teacher's sheet: everything a teacher prints before the lesson, on A4."""
    return render_template("dossiers/sheet.html", **_public_context(slug))


# --- archivists ---------------------------------------------------------------------------------


def _archivist():
    return access.require_archivist(current_person())


def _fields() -> service.DossierFields:
    form = request.form
    return service.DossierFields(
        title=form.get("title", ""),
        slug=form.get("slug", ""),
        introduction=form.get("introduction", ""),
        teacher_context=form.get("teacher_context", ""),
        guidance=form.get("guidance", ""),
        level=form.get("level", ""),
        questions=form.get("questions", ""),
        published=form.get("published") == "yes",
    )


@bp.get("/curation/dossiers/")
@login_required
def staff_index():
    _archivist()
    return render_template("dossiers/staff_index.html", dossiers=service.all_dossiers())


@bp.route("/curation/dossiers/new", methods=["GET", "POST"])
@login_required
def new():
    actor = _archivist()
    if request.method == "POST":
        try:
            with unit_of_work() as uow:
                dossier = service.save_dossier(uow, _fields(), actor)
        except PassagesError as exc:
            flash(exc.message, "error")
            return render_template("dossiers/edit.html", dossier=None, form=request.form), 400
        flash(_("Dossier saved."), "success")
        return redirect(url_for("dossiers.edit", dossier_id=dossier.id), code=303)
    return render_template("dossiers/edit.html", dossier=None, form={})


@bp.route("/curation/dossiers/<int:dossier_id>", methods=["GET", "POST"])
@login_required
def edit(dossier_id: int):
    actor = _archivist()
    dossier = service.get_dossier(dossier_id)
    if request.method == "POST":
        try:
            with unit_of_work() as uow:
                service.save_dossier(uow, _fields(), actor, dossier_id)
        except PassagesError as exc:
            flash(exc.message, "error")
            return render_template("dossiers/edit.html", dossier=dossier, form=request.form), 400
        flash(_("Dossier saved."), "success")
        return redirect(url_for("dossiers.edit", dossier_id=dossier_id), code=303)
    form = {
        name: getattr(dossier, name)
        for name in (
            "title", "slug", "introduction", "teacher_context", "guidance", "level", "questions",
        )
    }  # fmt: skip
    form["published"] = "yes" if dossier.published else ""
    return render_template("dossiers/edit.html", dossier=dossier, form=form)


@bp.post("/curation/dossiers/<int:dossier_id>/documents")
@login_required
def add_document(dossier_id: int):
    actor = _archivist()
    story_id = parse_id((request.form.get("story_id") or "").strip().lstrip("#"))
    if story_id is None:
        flash(_("Type the number of a published document."), "error")
    else:
        try:
            with unit_of_work() as uow:
                service.add_document(uow, dossier_id, story_id, actor)
            flash(_("Document added."), "success")
        except PassagesError as exc:
            flash(exc.message, "error")
    return redirect(url_for("dossiers.edit", dossier_id=dossier_id) + "#documents", code=303)


@bp.post("/curation/dossiers/<int:dossier_id>/documents/<int:item_id>/move")
@login_required
def move_document(dossier_id: int, item_id: int):
    actor = _archivist()
    offset = -1 if request.form.get("direction") == "up" else 1
    with unit_of_work() as uow:
        service.move_document(uow, dossier_id, item_id, offset, actor)
    return redirect(url_for("dossiers.edit", dossier_id=dossier_id) + "#documents", code=303)


@bp.post("/curation/dossiers/<int:dossier_id>/documents/<int:item_id>/remove")
@login_required
def remove_document(dossier_id: int, item_id: int):
    actor = _archivist()
    with unit_of_work() as uow:
        service.remove_document(uow, dossier_id, item_id, actor)
    flash(_("Document removed from the dossier."), "success")
    return redirect(url_for("dossiers.edit", dossier_id=dossier_id) + "#documents", code=303)
