"""Archivists' screens: the review queue and the decision on one story."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required

from webapp.auth import current_person
from webapp.errors import PassagesError
from webapp.extensions import db
from webapp.models import AuditEntry, Story, StoryStatus
from webapp.services import access, review

bp = Blueprint("moderation", __name__, url_prefix="/moderation")

OPEN_STATUSES = (StoryStatus.SUBMITTED, StoryStatus.IN_REVIEW, StoryStatus.CHANGES_REQUESTED)


@bp.get("/")
@login_required
def queue():
    access.require_archivist(current_person())
    status = request.args.get("status", "open")
    query = db.select(Story).order_by(Story.created_at.asc(), Story.id.asc())
    if status == "open":
        query = query.where(Story.status.in_([s.value for s in OPEN_STATUSES]))
    elif status in {s.value for s in StoryStatus}:
        query = query.where(Story.status == status)
    stories = db.session.scalars(query.limit(200)).all()
    return render_template(
        "moderation/queue.html",
        stories=stories,
        status=status,
        statuses=[s.value for s in StoryStatus],
    )


@bp.route("/stories/<int:story_id>", methods=["GET", "POST"])
@login_required
def story(story_id: int):
    user = access.require_archivist(current_person())
    if request.method == "POST":
        action = request.form.get("decision", "")
        note = request.form.get("note") or None
        try:
            if action == "withdraw":
                review.withdraw(story_id, note, user)
            else:
                review.review(story_id, action, note, user)
            flash(f"Story {story_id}: {action} recorded.", "success")
            return redirect(url_for("moderation.queue"), code=303)
        except PassagesError as exc:
            flash(exc.message, "error")
    story = db.session.get(Story, story_id)
    access.require_view(story, user)
    history = db.session.scalars(
        db.select(AuditEntry)
        .where(AuditEntry.subject_type == "story", AuditEntry.subject_id == story_id)
        .order_by(AuditEntry.at, AuditEntry.id)
    ).all()
    return render_template("moderation/story.html", story=story, history=history)
