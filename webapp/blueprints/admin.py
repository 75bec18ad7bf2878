"""Administrators' pages: organisations, invitations, people (deactivate, change role), API
tokens (revoke) and throttled logins (lift a back-off).

An invitation link is shown once to the admin who created it (and is valid for two weeks); the
invited teacher, coordinator or archivist sets their own password there. Every change here ends
the sessions it must (``User.session_epoch``) and goes through one unit of work.
"""

from __future__ import annotations

import time

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import gettext as _
from flask_login import login_required

from webapp.auth import current_person
from webapp.errors import PassagesError
from webapp.identifiers import parse_id
from webapp.models import OrganisationKind, Role
from webapp.services import access, accounts, throttle
from webapp.unit_of_work import unit_of_work

bp = Blueprint("admin", __name__, url_prefix="/admin")

ROLES = [Role.TEACHER.value, Role.ARCHIVIST.value, Role.CONTRIBUTOR.value, Role.ADMIN.value]


@bp.route("/", methods=["GET", "POST"])
@login_required
def index():
    admin = access.require_admin(current_person())
    link = None
    if request.method == "POST":
        try:
            with unit_of_work() as uow:
                if request.form.get("what") == "organisation":
                    org = accounts.create_organisation(
                        uow, admin, request.form.get("name", ""), request.form.get("kind", "")
                    )
                    flash(_("Organisation “%(name)s” created.", name=org.name), "success")
                elif request.form.get("what") == "invitation":
                    org_id = request.form.get("organisation_id", "")
                    token = accounts.invite(
                        uow,
                        admin,
                        request.form.get("email", ""),
                        request.form.get("role", ""),
                        parse_id(org_id),
                    )
                    link = url_for("accounts.invitation", token=token, _external=True)
        except PassagesError as exc:
            flash(exc.message, "error")
    response = make_response(
        render_template(
            "admin/index.html",
            organisations=accounts.all_organisations(),
            kinds=[k.value for k in OrganisationKind],
            roles=ROLES,
            link=link,
        )
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/people", methods=["GET", "POST"])
@login_required
def people():
    """Accounts with an e-mail login: deactivate, reactivate, change role, revoke tokens."""
    admin = access.require_admin(current_person())
    if request.method == "POST":
        what = request.form.get("what", "")
        raw_id = request.form.get("id", "")
        try:
            account_id = parse_id(raw_id)
            if account_id is None:
                raise PassagesError(gettext("choose an account or a token"))
            with unit_of_work() as uow:
                if what in ("deactivate", "activate"):
                    accounts.set_active(uow, admin, account_id, what == "activate")
                elif what == "role":
                    accounts.set_role(uow, admin, account_id, request.form.get("role", ""))
                elif what == "revoke":
                    accounts.revoke_token(uow, admin, account_id)
            flash(_("Done."), "success")
        except PassagesError as exc:
            flash(exc.message, "error")
        return redirect(url_for("admin.people"), code=303)
    response = make_response(
        render_template(
            "admin/people.html",
            users=accounts.users_for_admin(),
            tokens=accounts.all_tokens(),
            roles=ROLES,
        )
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/throttled", methods=["GET", "POST"])
@login_required
def throttled():
    """Login names and addresses under a back-off (or with failures counted); lift one."""
    access.require_admin(current_person())
    if request.method == "POST":
        with unit_of_work() as uow:
            released = throttle.release(uow, request.form.get("key", ""))
        flash(_("Back-off lifted.") if released else _("Nothing to lift."), "success")
        return redirect(url_for("admin.throttled"), code=303)
    now = int(time.time())
    response = make_response(
        render_template("admin/throttled.html", rows=throttle.throttled(now), now=now)
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
