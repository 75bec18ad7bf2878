"""Students' and invited people's doors: join a class, log in with a class code, accept an
invitation, and "my space" (my stories, what happened to them, hand a story in again).

A student never gives an e-mail address or surname. Access codes are shown once. Login attempts
go through ``accounts.check_credentials`` so the lockout applies to every door.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required, login_user

from webapp.auth import current_person
from webapp.errors import PassagesError
from webapp.extensions import db
from webapp.models import AuditEntry, Story
from webapp.services import access, accounts, classes, editing, notifications, review
from webapp.unit_of_work import unit_of_work

bp = Blueprint("accounts", __name__)


@bp.route("/join", methods=["GET", "POST"])
def join():
    form = {"code": request.values.get("code", ""), "pseudonym": ""}
    if request.method == "POST":
        form = {
            "code": request.form.get("code", ""),
            "pseudonym": request.form.get("pseudonym", ""),
        }
        try:
            with unit_of_work() as uow:
                joined = classes.join_class(uow, form["code"], form["pseudonym"])
        except PassagesError as exc:
            flash(exc.message, "error")
            return render_template("accounts/join.html", form=form), exc.status
        login_user(joined.student)
        return render_template("accounts/joined.html", joined=joined)
    return render_template("accounts/join.html", form=form)


@bp.route("/class-login", methods=["GET", "POST"])
def class_login():
    form = {"code": request.values.get("code", ""), "pseudonym": ""}
    if request.method == "POST":
        form = {
            "code": request.form.get("code", ""),
            "pseudonym": request.form.get("pseudonym", ""),
        }
        try:
            student = classes.student_login(
                form["code"], form["pseudonym"], request.form.get("access_code", "")
            )
        except PassagesError as exc:
            flash(exc.message, "error")
            return render_template("accounts/class_login.html", form=form), exc.status
        login_user(student)
        return redirect(url_for("accounts.me"), code=303)
    return render_template("accounts/class_login.html", form=form)


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def invitation(token: str):
    row = accounts.find_invitation(token)
    if request.method == "POST":
        try:
            user = accounts.accept_invitation(
                token, request.form.get("display_name", ""), request.form.get("password", "")
            )
        except PassagesError as exc:
            flash(exc.message, "error")
            return render_template("accounts/invitation.html", invitation=row), exc.status
        login_user(user)
        flash("Welcome! Your password is set.", "success")
        return redirect(url_for("accounts.me"), code=303)
    return render_template("accounts/invitation.html", invitation=row)


@bp.get("/me")
@login_required
def me():
    user = current_person()
    stories = db.session.scalars(
        db.select(Story).where(Story.submitted_by_id == user.id).order_by(Story.created_at.desc())
    ).all()
    messages = notifications.unread_for(user)
    page = render_template(
        "accounts/me.html", stories=stories, messages=messages, labels=review.LABELS
    )
    with unit_of_work() as uow:
        notifications.mark_read(uow, user)
    return page


@bp.route("/me/stories/<int:story_id>", methods=["GET", "POST"])
@login_required
def my_story(story_id: int):
    """The author reworks a returned story and hands it in again."""
    user = current_person()
    story = access.require_view(db.session.get(Story, story_id), user)
    if not access.is_owner(user, story):
        return redirect(url_for("moderation.story", story_id=story_id))
    if request.method == "POST":
        try:
            # One action: the edits and the hand-in commit together, or neither does.
            changes = {k: request.form[k] for k in ("title", "body") if k in request.form}
            with unit_of_work() as uow:
                if changes and story.status in editing.AUTHOR_EDITABLE:
                    editing.edit_metadata(uow, story_id, changes, user)
                if request.form.get("resubmit") == "yes":
                    action = "submit" if story.status == "draft" else "resubmit"
                    review.apply(uow, story_id, action, user)
            if request.form.get("resubmit") == "yes":
                flash("Your story is handed in.", "success")
            else:
                flash("Saved.", "success")
            return redirect(url_for("accounts.me"), code=303)
        except PassagesError as exc:
            flash(exc.message, "error")
    history = [
        entry
        for entry in db.session.scalars(
            db.select(AuditEntry)
            .where(AuditEntry.subject_type == "story", AuditEntry.subject_id == story_id)
            .order_by(AuditEntry.at)
        )
        if entry.action in ("story.return", "story.request_changes", "story.reject")
    ]
    return render_template(
        "accounts/my_story.html",
        story=story,
        editable=story.status in editing.AUTHOR_EDITABLE,
        comments=history,
    )
