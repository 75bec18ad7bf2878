"""Moderation screens: the teacher's and the archive's queues, one story's review page, bulk
decisions, metadata edits, consent and rights, takedown requests and erasure.

Views only parse forms and render; every rule (who may make which move, what blocks publication)
is in ``webapp.services``. A teacher only ever sees their own classes' handed-in stories.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required

from webapp.auth import current_person
from webapp.errors import PassagesError
from webapp.extensions import db
from webapp.models import MediaAsset, Organisation, SchoolClass, Story, StoryStatus
from webapp.search.contract import SearchRequest
from webapp.services import (
    access,
    audit,
    consent,
    duplicates,
    editing,
    erasure,
    quarantine,
    review,
)
from webapp.services.backends import search_index
from webapp.unit_of_work import unit_of_work

bp = Blueprint("moderation", __name__, url_prefix="/moderation")

OPEN_STATUSES = (StoryStatus.SUBMITTED, StoryStatus.IN_REVIEW, StoryStatus.CHANGES_REQUESTED)
BULK_ACTIONS = ("approve", "reject", "start_review", "publish")


def _date_arg(name: str) -> datetime | None:
    try:
        return datetime.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _archive_query():
    status = request.args.get("status", "open")
    query = (
        db.select(Story)
        .where(Story.quarantined.is_(False))  # anonymous stories: /moderation/quarantine/
        .order_by(Story.created_at.asc(), Story.id.asc())
    )
    if status == "open":
        query = query.where(Story.status.in_([s.value for s in OPEN_STATUSES]))
    elif status in {s.value for s in StoryStatus}:
        query = query.where(Story.status == status)
    if request.args.get("organisation", "").isdigit():
        query = query.where(Story.organisation_id == int(request.args["organisation"]))
    if request.args.get("language", "").strip():
        query = query.where(Story.language == request.args["language"].strip())
    has_images = request.args.get("has_images", "")
    with_media = db.select(MediaAsset.id).where(MediaAsset.story_id == Story.id).exists()
    if has_images == "yes":
        query = query.where(with_media)
    elif has_images == "no":
        query = query.where(~with_media)
    if (since := _date_arg("since")) is not None:
        query = query.where(Story.created_at >= since)
    if (until := _date_arg("until")) is not None:
        query = query.where(Story.created_at <= until)
    if words := request.args.get("q", "").strip():
        query = query.where(Story.id.in_(_matching_story_ids(words)))
    return query, status


def _matching_story_ids(words: str, limit: int = 500) -> list[int]:
    """Archivists search every story, whatever its status, through the same index as the public
    (``public=False`` lifts the published-only rule)."""
    page = search_index().search(SearchRequest(q=words, per_page=limit, public=False))
    return [hit.id for hit in page.hits]


@bp.get("/")
@login_required
def queue():
    """Archivists: every story, filtered. Teachers: their classes' handed-in stories."""
    user = access.require_teacher_or_staff(current_person())
    if not user.is_staff:
        classes = db.session.scalars(
            db.select(SchoolClass).where(SchoolClass.teacher_id == user.id)
        ).all()
        stories = [
            story
            for story in db.session.scalars(
                db.select(Story)
                .where(Story.status != StoryStatus.DRAFT.value)
                .order_by(Story.created_at.desc())
                .limit(500)
            )
            if access.is_teacher_of(user, story)
        ]
        return render_template("moderation/teacher_queue.html", stories=stories, classes=classes)
    query, status = _archive_query()
    stories = db.session.scalars(query.limit(200)).all()
    return render_template(
        "moderation/queue.html",
        stories=stories,
        status=status,
        statuses=[s.value for s in StoryStatus],
        organisations=db.session.scalars(db.select(Organisation).order_by(Organisation.name)).all(),
        args=request.args,
        bulk_actions=BULK_ACTIONS,
        labels=review.LABELS,
        takedowns=erasure.open_requests(),
        quarantined=quarantine.count_waiting(),
    )


@bp.post("/bulk")
@login_required
def bulk():
    """Apply one decision to several stories: one unit of work per story, and a report.

    Why not one transaction for the whole selection: each story's decision is its own fact (its
    audit entry, its event, its notifications), and a story another archivist moved meanwhile
    must not void the decisions on the others. So each story commits or fails on its own, and the
    archivist is told exactly which ones were done and which were not, and why.
    """
    user = access.require_archivist(current_person())
    action = request.form.get("action", "")
    if action not in BULK_ACTIONS:
        flash("Choose what to do with the selected stories.", "error")
        return redirect(url_for("moderation.queue"), code=303)
    ids = [int(v) for v in request.form.getlist("story_id") if v.isdigit()]
    note = request.form.get("note") or None
    done, failed = [], []
    for story_id in ids:
        try:
            with unit_of_work() as uow:
                if action in ("approve", "reject"):
                    review.review(uow, story_id, action, note, user)
                else:
                    review.apply(uow, story_id, action, user, note)
            done.append(story_id)
        except PassagesError as exc:
            failed.append(f"#{story_id}: {exc.message}")
    label = review.LABELS[action]
    flash(
        f"{len(done)} of {len(ids)} stories: {label} done"
        + (f" ({', '.join(f'#{i}' for i in done)})." if done else "."),
        "success" if done else "error",
    )
    for message in failed:
        flash(f"Not done — {message}", "error")
    return redirect(url_for("moderation.queue"), code=303)


@bp.route("/stories/<int:story_id>", methods=["GET", "POST"])
@login_required
def story(story_id: int):
    """One story side by side with its images; the buttons are the moves this person may make."""
    user = access.require_teacher_or_staff(current_person())
    if request.method == "POST":
        action = request.form.get("decision", "")
        note = request.form.get("note") or None
        try:
            with unit_of_work() as uow:
                review.apply(uow, story_id, action, user, note)
            flash(f"Story {story_id}: {review.LABELS.get(action, action)} — done.", "success")
            return redirect(url_for("moderation.story", story_id=story_id), code=303)
        except PassagesError as exc:
            flash(exc.message, "error")
    story = access.require_view(db.session.get(Story, story_id), user)
    return render_template(
        "moderation/story.html",
        story=story,
        duplicates=duplicates.duplicates_for_story(story, user),
        history=audit.story_history(story_id),
        actions=review.possible_actions(story, user),
        labels=review.LABELS,
        blockers=consent.publication_blockers(story),
        guardian=consent.guardian_state(story).value,
        licences=consent.LICENCES,
        is_staff=user.is_staff,
    )


@bp.post("/stories/<int:story_id>/metadata")
@login_required
def edit(story_id: int):
    user = access.require_archivist(current_person())
    changes = {
        field: request.form.get(field, "")
        for field in ("title", "places", "period", "themes", "licence", "credit")
        if field in request.form
    }
    try:
        with unit_of_work() as uow:
            fields = editing.edit_metadata(uow, story_id, changes, user)
        flash(("Changed: " + ", ".join(fields)) if fields else "Nothing changed.", "success")
    except PassagesError as exc:
        flash(exc.message, "error")
    return redirect(url_for("moderation.story", story_id=story_id), code=303)


@bp.post("/media/<int:media_id>/rights")
@login_required
def media_rights(media_id: int):
    user = access.require_archivist(current_person())
    try:
        with unit_of_work() as uow:
            media = editing.edit_media_rights(
                uow, media_id, request.form.get("licence"), request.form.get("credit"), user
            )
        flash("Image rights saved.", "success")
        return redirect(url_for("moderation.story", story_id=media.story_id), code=303)
    except PassagesError as exc:
        flash(exc.message, "error")
        return redirect(url_for("moderation.queue"), code=303)


@bp.post("/stories/<int:story_id>/consent")
@login_required
def record_consent(story_id: int):
    user = access.require_teacher_or_staff(current_person())
    what = request.form.get("what")
    if what not in ("guardian", "persons"):
        abort(400)
    try:
        with unit_of_work() as uow:
            if what == "guardian":
                consent.record_guardian_consent(
                    uow, story_id, request.form.get("given_by", ""), user
                )
            else:
                identifiable = request.form.get("identifiable") == "yes"
                consent.set_persons_identifiable(uow, story_id, identifiable, user)
        flash("The guardian's consent is recorded." if what == "guardian" else "Recorded.",
              "success")  # fmt: skip
    except PassagesError as exc:
        flash(exc.message, "error")
    return redirect(url_for("moderation.story", story_id=story_id), code=303)


@bp.post("/stories/<int:story_id>/erase")
@login_required
def erase(story_id: int):
    user = access.require_archivist(current_person())
    if request.form.get("confirm") != "ERASE":
        flash("Type ERASE to confirm: erasure cannot be undone.", "error")
        return redirect(url_for("moderation.story", story_id=story_id), code=303)
    with unit_of_work() as uow:
        erasure.erase_story(uow, story_id, user)
    flash(f"Story {story_id} was erased. The audit log keeps only that it happened.", "success")
    return redirect(url_for("moderation.queue"), code=303)


@bp.post("/takedowns/<int:request_id>")
@login_required
def close_takedown(request_id: int):
    user = access.require_archivist(current_person())
    with unit_of_work() as uow:
        erasure.close_request(uow, request_id, request.form.get("state", ""), user)
    flash("Request closed.", "success")
    return redirect(url_for("moderation.queue"), code=303)
