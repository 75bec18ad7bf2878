"""Curation screens for archivists: collections (fields, order, membership) and places of origin.

Every view asks ``access.require_archivist`` and hands the rules to
``webapp.services.collections``; reordering works with plain forms (up/down buttons and typed
positions), so no JavaScript is needed. This module must never be reachable by a visitor or a
contributor, and never changes a story.
"""

from __future__ import annotations

import logging
import math

from flask import Blueprint, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from webapp import places, reasons
from webapp.auth import current_person
from webapp.errors import BadRequest
from webapp.identifiers import parse_id
from webapp.services import access, transfers
from webapp.services import collections as service
from webapp.unit_of_work import unit_of_work

log = logging.getLogger(__name__)

bp = Blueprint("curation", __name__, url_prefix="/curation")


@bp.before_request
def _archivists_only():
    access.require_archivist(current_person())


def _fields_from_form() -> service.CollectionFields:
    form = request.form
    return service.CollectionFields(
        title=form.get("title", ""),
        slug=form.get("slug", ""),
        introduction=form.get("introduction", ""),
        published=form.get("published") == "yes",
        featured=form.get("featured") == "yes",
    )


@bp.get("/")
def index():
    return render_template(
        "curation/index.html",
        collections=service.all_collections(),
        origins=places.origin_places(),
    )


# --- exports and bulk imports (webapp.services.transfers; the work is done by jobs) ------------


@bp.get("/transfers")
def transfers_page():
    return render_template(
        "curation/transfers.html",
        exports=transfers.recent_exports(),
        imports=transfers.recent_imports(),
        collections=service.all_collections(),
        organisations=transfers.organisations(),
        may_export_originals=transfers.may_export_originals(current_person()),
    )


@bp.post("/exports")
def request_export():
    try:
        with unit_of_work() as uow:
            run = transfers.request_export(
                uow,
                current_person(),
                request.form.get("collection"),
                request.form.get("originals") == "yes",
            )
    except BadRequest as exc:
        flash(exc.message, "error")
        return redirect(url_for("curation.transfers_page"))
    return redirect(url_for("curation.export_status", export_id=run.id))


def _export_json(run) -> dict:
    ready = run.state == "ready"
    return {
        "id": run.id,
        "state": run.state,
        "done": run.done,
        "total": run.total,
        "error": reasons.words(run.error) or None,
        "error_code": reasons.code_of(run.error),
        "bytes": run.byte_size,
        "download_url": url_for("curation.download_export", export_id=run.id) if ready else None,
    }


@bp.get("/exports/<int:export_id>")
def export_status(export_id: int):
    run = transfers.get_export(export_id, current_person())
    return render_template("curation/export.html", run=run, status=_export_json(run))


@bp.get("/exports/<int:export_id>/progress.json")
def export_progress(export_id: int):
    """Polled by whoever wants progress without reloading the page (no script needed)."""
    return jsonify(_export_json(transfers.get_export(export_id, current_person())))


@bp.get("/exports/<int:export_id>/download")
def download_export(export_id: int):
    path = transfers.export_file(export_id, current_person())
    return send_file(path, mimetype="application/zip", as_attachment=True, download_name=path.name)


@bp.post("/imports")
def upload_import():
    def uploaded(name: str) -> transfers.UploadedFile | None:
        part = request.files.get(name)
        if part is None or not part.filename:
            return None
        return transfers.UploadedFile(filename=part.filename, stream=part.stream)

    try:
        with unit_of_work() as uow:
            run = transfers.stage_import(
                uow,
                current_person(),
                uploaded("table"),
                uploaded("images"),
                request.form.get("as_status", "submitted"),
                parse_id(request.form.get("organisation", "")),
            )
    except BadRequest as exc:
        flash(exc.message, "error")
        return redirect(url_for("curation.transfers_page"))
    return redirect(url_for("curation.import_status", import_id=run.id))


def _import_json(run) -> dict:
    return {
        "id": run.id,
        "state": run.state,
        "total": run.total,
        "done": run.done,
        "created": run.created,
        "skipped": run.skipped,
        "error": reasons.words(run.error) or None,
        "error_code": reasons.code_of(run.error),
        "problems": [
            {"row": p.get("row"), "column": p.get("column"), "message": problem_words(p)}
            for p in run.problems
        ],
    }


@bp.app_template_filter("problem_words")
def problem_words(problem: dict) -> str:
    """One problem of an import check in the reader's language: it is stored as an English
    message id with its parameters (a refused file's ``reason`` as a stored reason code)."""
    params = dict(problem.get("params") or {})
    if "reason" in params:
        params["reason"] = reasons.words(params["reason"])
    return _(problem["message"], **params)


@bp.get("/imports/<int:import_id>")
def import_status(import_id: int):
    run = transfers.get_import(import_id, current_person())
    return render_template("curation/import.html", run=run)


@bp.get("/imports/<int:import_id>/progress.json")
def import_progress(import_id: int):
    return jsonify(_import_json(transfers.get_import(import_id, current_person())))


@bp.post("/imports/<int:import_id>/start")
def start_import(import_id: int):
    try:
        with unit_of_work() as uow:
            transfers.start_import(uow, current_person(), import_id)
    except BadRequest as exc:
        flash(exc.message, "error")
    return redirect(url_for("curation.import_status", import_id=import_id))


@bp.route("/collections/new", methods=["GET", "POST"])
def new_collection():
    if request.method == "POST":
        try:
            with unit_of_work() as uow:
                collection = service.save_collection(uow, _fields_from_form(), current_person())
        except BadRequest as exc:
            flash(exc.message, "error")
            return render_template("curation/edit.html", collection=None, form=request.form), 400
        flash(_("Collection saved."), "info")
        return redirect(url_for("curation.edit_collection", collection_id=collection.id))
    return render_template("curation/edit.html", collection=None, form={})


@bp.route("/collections/<int:collection_id>", methods=["GET", "POST"])
def edit_collection(collection_id: int):
    collection = service.get_collection(collection_id)
    if request.method == "POST":
        try:
            with unit_of_work() as uow:
                service.save_collection(uow, _fields_from_form(), current_person(), collection_id)
        except BadRequest as exc:
            flash(exc.message, "error")
            return render_template(
                "curation/edit.html", collection=collection, form=request.form
            ), 400
        flash(_("Collection saved."), "info")
        return redirect(url_for("curation.edit_collection", collection_id=collection_id))
    form = {
        "title": collection.title,
        "slug": collection.slug,
        "introduction": collection.introduction,
        "published": "yes" if collection.published else "",
        "featured": "yes" if collection.featured else "",
    }
    return render_template(
        "curation/edit.html",
        collection=collection,
        form=form,
        cover_candidates=service.cover_candidates(collection),
        cover=service.cover_image(collection),
    )


@bp.post("/collections/<int:collection_id>/items")
def add_item(collection_id: int):
    story_id = parse_id(request.form.get("story_id", ""))
    if story_id is None:  # not a number, or one no database could hold
        flash(_("Type the number of a story."), "error")
    else:
        try:
            with unit_of_work() as uow:
                service.add_story(uow, collection_id, story_id, current_person())
            flash(_("Story added."), "info")
        except BadRequest as exc:
            flash(exc.message, "error")
    return redirect(url_for("curation.edit_collection", collection_id=collection_id))


@bp.post("/collections/<int:collection_id>/items/<int:item_id>/move")
def move_item(collection_id: int, item_id: int):
    offset = -1 if request.form.get("direction") == "up" else 1
    with unit_of_work() as uow:
        service.move_item(uow, collection_id, item_id, offset, current_person())
    return redirect(
        url_for("curation.edit_collection", collection_id=collection_id) + f"#item-{item_id}"
    )


@bp.post("/collections/<int:collection_id>/cover")
def set_cover(collection_id: int):
    """Radio buttons, no script: one image id, or "auto" to go back to the automatic cover."""
    choice = request.form.get("cover_media_id", "auto")
    try:
        media_id = None if choice == "auto" else parse_id(choice)
        if choice != "auto" and media_id is None:
            raise ValueError(choice)
        with unit_of_work() as uow:
            service.set_cover(uow, collection_id, media_id, current_person())
        flash(_("Cover saved."), "info")
    except ValueError:
        flash(_("Choose one of the images."), "error")
    except BadRequest as exc:
        flash(exc.message, "error")
    return redirect(url_for("curation.edit_collection", collection_id=collection_id) + "#cover")


@bp.post("/collections/<int:collection_id>/order")
def set_order(collection_id: int):
    positions: dict[int, float] = {}
    for key, value in request.form.items():
        if key.startswith("position-"):
            try:
                item_id = parse_id(key.removeprefix("position-"))
                position = float(value)
            except ValueError:
                continue
            if item_id is not None and math.isfinite(position):
                positions[item_id] = position
    with unit_of_work() as uow:
        service.set_order(uow, collection_id, positions, current_person())
    flash(_("Order saved."), "info")
    return redirect(url_for("curation.edit_collection", collection_id=collection_id))


@bp.post("/collections/<int:collection_id>/items/<int:item_id>/remove")
def remove_item(collection_id: int, item_id: int):
    with unit_of_work() as uow:
        service.remove_item(uow, collection_id, item_id, current_person())
    flash(_("Story removed from the collection."), "info")
    return redirect(url_for("curation.edit_collection", collection_id=collection_id))


@bp.route("/stories/<int:story_id>/descriptions", methods=["GET", "POST"])
def describe_images(story_id: int):
    """One text field per image: archivists write or fix each image's alternative text."""
    story = service.story_for_descriptions(story_id)
    if request.method == "POST":
        descriptions = {
            media_id: value
            for key, value in request.form.items()
            if key.startswith("alt-") and (media_id := parse_id(key.removeprefix("alt-")))
        }
        try:
            with unit_of_work() as uow:
                service.describe_images(uow, story_id, descriptions, current_person())
            flash(_("Descriptions saved."), "info")
        except BadRequest as exc:
            flash(exc.message, "error")
        return redirect(url_for("curation.describe_images", story_id=story_id))
    media = sorted(story.media, key=lambda m: (m.position, m.id))
    return render_template("curation/descriptions.html", story=story, media=media)


@bp.post("/places")
def add_place():
    def _coordinate(name: str, low: float, high: float) -> float | None:
        try:
            value = float(request.form.get(name, "").replace(",", "."))
        except ValueError:
            return None
        return value if low <= value <= high else None

    try:
        with unit_of_work():
            place = places.add_origin_place(
                request.form.get("name", ""),
                _coordinate("latitude", -90, 90),
                _coordinate("longitude", -180, 180),
            )
        log.info("place %s recorded by user %s", place.id, current_person().id)
        flash(_("Place recorded: %(name)s.", name=place.name), "info")
    except ValueError:
        flash(_("A place needs a name."), "error")
    return redirect(url_for("curation.index"))
