"""Admins' view of the consistency checks (``passages check``, weekly and by hand).

Read-only: the runs are stored by :mod:`webapp.operations.checks`; this page lists them, newest
first, with every problem of the latest runs and what it means. It never runs a check in the
web request (a fixity pass reads every original; that is a job's work).
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from webapp.auth import current_person
from webapp.operations import checks
from webapp.services import access

bp = Blueprint("checks", __name__, url_prefix="/admin/checks")


@bp.get("/")
@login_required
def index():
    access.require_admin(current_person())
    runs = checks.latest_runs(20)
    return render_template("checks/index.html", runs=runs, describe=checks.describe)
