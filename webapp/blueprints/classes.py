"""Teachers' class pages: create a class, print its sheet, see students, reset a student's access.

A teacher only ever reaches their own classes (another teacher's class answers 404). Access codes
appear once, on the page that created them, and are never stored in clear.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import gettext as _
from flask_login import login_required

from webapp.auth import current_person
from webapp.errors import Forbidden, PassagesError
from webapp.models import Role
from webapp.services import access, classes
from webapp.unit_of_work import unit_of_work

bp = Blueprint("classes", __name__, url_prefix="/classes")


def _teacher():
    user = access.require_teacher_or_staff(current_person())
    if not user.has_role(Role.TEACHER, Role.ADMIN):
        raise Forbidden(gettext("only teachers have classes"))
    return user


@bp.route("/", methods=["GET", "POST"])
@login_required
def index():
    teacher = _teacher()
    if request.method == "POST":
        try:
            with unit_of_work() as uow:
                klass = classes.create_class(uow, teacher, request.form.get("name", ""))
            flash(_("Class created. Its code is %(code)s.", code=klass.code), "success")
            return redirect(url_for("classes.show", class_id=klass.id), code=303)
        except PassagesError as exc:
            flash(exc.message, "error")
    return render_template("classes/index.html", classes=classes.classes_of(teacher))


@bp.get("/<int:class_id>")
@login_required
def show(class_id: int):
    klass = classes.require_own_class(_teacher(), class_id)
    return render_template("classes/show.html", klass=klass, fresh=None)


@bp.get("/<int:class_id>/sheet")
@login_required
def sheet(class_id: int):
    """A printable page with the class code and how to join, to hand out in class."""
    klass = classes.require_own_class(_teacher(), class_id)
    join_url = url_for("accounts.join", _external=True)
    return render_template("classes/sheet.html", klass=klass, join_url=join_url)


@bp.post("/<int:class_id>/students/<int:student_id>/reset")
@login_required
def reset(class_id: int, student_id: int):
    teacher = _teacher()
    klass = classes.require_own_class(teacher, class_id)
    with unit_of_work() as uow:
        fresh = classes.reset_student_access(uow, teacher, student_id)
        if fresh.student.class_id != klass.id:  # checked before the new code is committed
            raise Forbidden(gettext("this student is not in this class"))
    return render_template("classes/show.html", klass=klass, fresh=fresh)


@bp.post("/<int:class_id>/joining")
@login_required
def joining(class_id: int):
    with unit_of_work() as uow:
        classes.set_joining(uow, _teacher(), class_id, request.form.get("open") == "yes")
    return redirect(url_for("classes.show", class_id=class_id), code=303)
