"""The indicators page for archivists and admins: counts that follow the work, read only.

It must never be public: every request asks ``access.require_archivist`` first.
"""

from __future__ import annotations

from flask import Blueprint, make_response, render_template

from webapp.auth import current_person
from webapp.services import access, projects
from webapp.services import indicators as service

bp = Blueprint("indicators", __name__, url_prefix="/indicators")


@bp.get("/")
def index():
    access.require_archivist(current_person())
    response = make_response(
        render_template(
            "curation/indicators.html", data=service.compute(), teaching=projects.indicators()
        )
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
