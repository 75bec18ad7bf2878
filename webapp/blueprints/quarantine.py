"""Archivists empty the quarantine of anonymous submissions in one action: let the selected (or
all) stories into the review queue, or discard them. Rules live in
``webapp.services.quarantine``; discarding erases through ``webapp.services.erasure``."""

from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required

from webapp.auth import current_person
from webapp.errors import PassagesError
from webapp.identifiers import parse_id
from webapp.services import access, erasure, quarantine
from webapp.unit_of_work import unit_of_work

bp = Blueprint("quarantine", __name__, url_prefix="/moderation/quarantine")


@bp.route("/", methods=["GET", "POST"])
@login_required
def index():
    archivist = access.require_archivist(current_person())
    if request.method == "POST":
        ids = [n for n in map(parse_id, request.form.getlist("story_id")) if n] or None
        action = request.form.get("action")
        if action == "release":
            with unit_of_work() as uow:
                count = quarantine.release(uow, archivist, ids)
            message = ngettext(
                "%(num)s story let into the review queue.",
                "%(num)s stories let into the review queue.",
                count,
            )
            flash(message, "success")
        elif action == "discard":
            erased = 0
            for story_id in quarantine.discard_ids(archivist, ids):
                try:  # one unit of work per story: one refusal does not keep the others
                    with unit_of_work() as uow:
                        erasure.erase_story(uow, story_id, archivist)
                    erased += 1
                except PassagesError as exc:
                    flash(_("#%(id)s: %(reason)s", id=story_id, reason=exc.message), "error")
            flash(
                ngettext("%(num)s story discarded.", "%(num)s stories discarded.", erased),
                "success",
            )
        else:
            flash(_("Choose what to do with the stories."), "error")
        return redirect(url_for("quarantine.index"), code=303)
    response = make_response(
        render_template("moderation/quarantine.html", stories=quarantine.waiting())
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
