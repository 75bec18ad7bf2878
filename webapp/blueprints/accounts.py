"""Students' and invited people's doors: join a class, log in with a class code, accept an
invitation, "my space" (my stories, what happened to them, hand a story in again) and "my
account" (password, API tokens).

A student never gives an e-mail address or surname. Access codes are shown once. Every login
door goes through ``webapp.auth.password_login`` (throttled per name and per address); a wrong
class code, pseudonym or access code all get the same answer. Reading a page never changes
anything: notifications are marked read by an explicit POST.
"""

from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required, login_user, logout_user

from webapp import labels
from webapp.auth import current_person, password_login
from webapp.errors import AuthenticationRequired, PassagesError
from webapp.identifiers import parse_id
from webapp.services import (
    access,
    accounts,
    audit,
    classes,
    editing,
    notifications,
    review,
    stories,
)
from webapp.services.throttle import LoginThrottled
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
        login_name = "class:{}:{}".format(
            classes.normalise_code(form["code"]), " ".join(form["pseudonym"].split())
        )
        try:
            student = password_login(
                login_name,
                lambda: classes.student_login(
                    form["code"], form["pseudonym"], request.form.get("access_code", "")
                ),
            )
        except LoginThrottled as exc:
            flash(_("Too many attempts. Wait %(seconds)s seconds and try again.",
                    seconds=exc.retry_after), "error")  # fmt: skip
            response = make_response(render_template("accounts/class_login.html", form=form))
            response.status_code = 429
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        except AuthenticationRequired:
            # Same words whether the class code, the name or the access code was wrong.
            flash(_("Wrong class code, name or access code."), "error")
            return render_template("accounts/class_login.html", form=form), 401
        login_user(student)
        return redirect(url_for("accounts.me"), code=303)
    return render_template("accounts/class_login.html", form=form)


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def invitation(token: str):
    row = accounts.find_invitation(token)
    if request.method == "POST":
        try:
            with unit_of_work() as uow:
                user = accounts.accept_invitation(
                    uow,
                    token,
                    request.form.get("display_name", ""),
                    request.form.get("password", ""),
                )
        except PassagesError as exc:
            flash(exc.message, "error")
            return render_template("accounts/invitation.html", invitation=row), exc.status
        login_user(user)
        flash(_("Welcome! Your password is set."), "success")
        return redirect(url_for("accounts.me"), code=303)
    return render_template("accounts/invitation.html", invitation=row)


@bp.get("/me")
@login_required
def me():
    user = current_person()
    messages = notifications.unread_for(user)
    return render_template(
        "accounts/me.html",
        stories=stories.submitted_by(user),
        messages=messages,
        notification_text=notifications.text_of,
        labels=labels.ACTION,
    )


@bp.post("/me/notifications/read")
@login_required
def mark_notifications_read():
    """Marking news as read is an explicit action (a GET never changes anything)."""
    with unit_of_work() as uow:
        notifications.mark_read(uow, current_person())
    return redirect(url_for("accounts.me"), code=303)


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    """My password and my API tokens (people with an e-mail login; students have neither)."""
    user = current_person()
    if user.is_student:
        return redirect(url_for("accounts.me"))
    new_token = None
    if request.method == "POST":
        what = request.form.get("what")
        try:
            with unit_of_work() as uow:
                if what == "password":
                    accounts.change_password(
                        uow, user, request.form.get("current", ""), request.form.get("new", "")
                    )
                elif what == "token":
                    _row, new_token = accounts.issue_token_for(
                        uow, user, request.form.get("label", "")
                    )
                elif what == "revoke" and parse_id(request.form.get("token_id")):
                    accounts.revoke_token(uow, user, parse_id(request.form.get("token_id")))
        except AuthenticationRequired:
            flash(_("Your current password is not right."), "error")
            return redirect(url_for("accounts.account"), code=303)
        except PassagesError as exc:
            flash(exc.message, "error")
            return redirect(url_for("accounts.account"), code=303)
        if what == "password":
            # Every session ended with the change; this browser logs in again with the new one.
            logout_user()
            flash(_("Password changed. Log in again with the new one."), "success")
            return redirect(url_for("public.login"), code=303)
        if what == "revoke":
            flash(_("The token is revoked."), "success")
        if new_token is None:
            return redirect(url_for("accounts.account"), code=303)
    response = make_response(
        render_template(
            "accounts/account.html", tokens=accounts.tokens_of(user), new_token=new_token
        )
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/me/stories/<int:story_id>", methods=["GET", "POST"])
@login_required
def my_story(story_id: int):
    """The author reworks a returned story and hands it in again."""
    user = current_person()
    story = access.require_view(stories.find_story(story_id), user)
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
                flash(_("Your story is handed in."), "success")
            else:
                flash(_("Saved."), "success")
            return redirect(url_for("accounts.me"), code=303)
        except PassagesError as exc:
            flash(exc.message, "error")
    return render_template(
        "accounts/my_story.html",
        story=story,
        editable=story.status in editing.AUTHOR_EDITABLE,
        comments=audit.feedback_for_author(story_id),
    )
