"""Administrators' pages: organisations (schools, associations, archive services) and invitations.

An invitation link is shown once to the admin who created it (and is valid for two weeks); the
invited teacher, coordinator or archivist sets their own password there.
"""

from __future__ import annotations

from flask import Blueprint, flash, render_template, request, url_for
from flask_login import login_required

from webapp.auth import current_person
from webapp.errors import PassagesError
from webapp.extensions import db
from webapp.models import Organisation, OrganisationKind, Role
from webapp.services import access, accounts

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/", methods=["GET", "POST"])
@login_required
def index():
    admin = access.require_admin(current_person())
    link = None
    if request.method == "POST":
        try:
            if request.form.get("what") == "organisation":
                org = accounts.create_organisation(
                    admin, request.form.get("name", ""), request.form.get("kind", "")
                )
                flash(f"Organisation “{org.name}” created.", "success")
            elif request.form.get("what") == "invitation":
                org_id = request.form.get("organisation_id", "")
                token = accounts.invite(
                    admin,
                    request.form.get("email", ""),
                    request.form.get("role", ""),
                    int(org_id) if org_id.isdigit() else None,
                )
                link = url_for("accounts.invitation", token=token, _external=True)
        except PassagesError as exc:
            flash(exc.message, "error")
    organisations = db.session.scalars(db.select(Organisation).order_by(Organisation.name)).all()
    return render_template(
        "admin/index.html",
        organisations=organisations,
        kinds=[k.value for k in OrganisationKind],
        roles=[Role.TEACHER.value, Role.ARCHIVIST.value, Role.CONTRIBUTOR.value, Role.ADMIN.value],
        link=link,
    )
