"""Moderation screens: the teacher's and the archive's queues, one story's review page, bulk
decisions, metadata edits, consent and rights, takedown requests and erasure.

Views only parse forms and render; every rule (who may make which move, what blocks publication)
is in ``webapp.services``. A teacher only ever sees their own classes' handed-in stories.
"""

from __future__ import annotations

from datetime import datetime

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required

from webapp import labels
from webapp.auth import current_person
from webapp.errors import PassagesError, SearchUnavailable
from webapp.identifiers import parse_id
from webapp.models import StoryStatus
from webapp.presenters import media_state_label, media_states
from webapp.services import (
    access,
    accounts,
    audit,
    consent,
    duplicates,
    editing,
    erasure,
    listing,
    quarantine,
    review,
    stories,
)
from webapp.unit_of_work import unit_of_work

bp = Blueprint("moderation", __name__, url_prefix="/moderation")

#: Stories per page of the queues (the total is shown; "next page" continues by cursor).
QUEUE_PAGE = 100
BULK_ACTIONS = ("approve", "reject", "start_review", "publish")


def _date_arg(name: str) -> datetime | None:
    try:
        return datetime.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _archive_filter() -> tuple[listing.StoryFilter, str]:
    status = request.args.get("status", "open")
    statuses = list(listing.OPEN_STATUSES) if status == "open" else []
    if status in {s.value for s in StoryStatus}:
        statuses = [status]
    organisation = request.args.get("organisation", "")
    has_images = request.args.get("has_images", "")
    wanted = listing.StoryFilter(
        statuses=statuses,
        words=request.args.get("q", "").strip()[:500],
        organisation_id=parse_id(organisation),
        language=request.args.get("language", "").strip(),
        has_images={"yes": True, "no": False}.get(has_images),
        since=_date_arg("since"),
        until=_date_arg("until"),
        quarantined=False,  # anonymous stories wait at /moderation/quarantine/
    )
    return wanted, status


@bp.get("/")
@login_required
def queue():
    """Archivists: every story, filtered. Teachers: their classes' handed-in stories.

    Both are whole listings from ``webapp.services.listing`` (scoped in SQL, total shown, one
    page at a time by cursor); a failed word search is said, never shown as an empty queue.
    """
    user = access.require_teacher_or_staff(current_person())
    cursor = request.args.get("cursor")
    if not user.is_staff:
        wanted = listing.StoryFilter(newest_first=True)
        page = listing.list_stories(user, wanted, cursor, QUEUE_PAGE)
        return render_template(
            "moderation/teacher_queue.html",
            stories=page.stories,
            total=page.total,
            next_url=_next_url(page.next_cursor),
        )
    wanted, status = _archive_filter()
    failure = None
    try:
        page = listing.list_stories(user, wanted, cursor, QUEUE_PAGE)
    except SearchUnavailable as exc:
        page, failure = listing.Listing(total=0, stories=[], next_cursor=None), exc
    response = render_template(
        "moderation/queue.html",
        stories=page.stories,
        total=page.total,
        next_url=_next_url(page.next_cursor),
        failure=failure,
        status=status,
        statuses=[s.value for s in StoryStatus],
        organisations=accounts.all_organisations(),
        args=request.args,
        bulk_actions=BULK_ACTIONS,
        labels=labels.ACTION,
        takedowns=erasure.open_requests(),
        quarantined=quarantine.count_waiting(),
    )
    return (response, 503) if failure is not None else response


def _next_url(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    args = {k: v for k, v in request.args.items() if k != "cursor"}
    return url_for("moderation.queue", **args, cursor=cursor)


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
        flash(_("Choose what to do with the selected stories."), "error")
        return redirect(url_for("moderation.queue"), code=303)
    ids = [n for n in map(parse_id, request.form.getlist("story_id")) if n]
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
    which = f" ({', '.join(f'#{i}' for i in done)})" if done else ""
    flash(
        ngettext(
            "“%(action)s”: done for %(done)s of %(num)s story%(which)s.",
            "“%(action)s”: done for %(done)s of %(num)s stories%(which)s.",
            len(ids),
            action=labels.label(action, "action"),
            done=len(done),
            which=which,
        ),
        "success" if done else "error",
    )
    for message in failed:
        flash(_("Not done — %(reason)s", reason=message), "error")
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
            flash(
                _(
                    "Story %(id)s: “%(action)s” done.",
                    id=story_id,
                    action=labels.label(action, "action"),
                ),
                "success",
            )
            return redirect(url_for("moderation.story", story_id=story_id), code=303)
        except PassagesError as exc:
            flash(exc.message, "error")
    story = access.require_view(stories.find_story(story_id), user)
    return render_template(
        "moderation/story.html",
        story=story,
        duplicates=duplicates.duplicates_for_story(story, user),
        history=audit.story_history(story_id),
        actions=review.possible_actions(story, user),
        labels=labels.ACTION,
        blockers=consent.publication_blockers(story),
        guardian=consent.guardian_state(story).value,
        licences=consent.LICENCES,
        is_staff=user.is_staff,
        media_state_label=media_state_label,
    )


@bp.get("/stories/<int:story_id>/media.json")
@login_required
def story_media(story_id: int):
    """The review page's images, polled by it: same rule as the page."""
    user = access.require_teacher_or_staff(current_person())
    story = access.require_view(stories.find_story(story_id), user)
    response = jsonify(media_states(story))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/stories/<int:story_id>/metadata")
@login_required
def edit(story_id: int):
    user = access.require_archivist(current_person())
    changes = {
        field: request.form.get(field, "")
        for field in ("title", "places", "period", "themes", "licence", "credit")
        if field in request.form
    }
    if "source_institution" in request.form:  # an archive document's provenance
        changes["source"] = {
            key: request.form.get(f"source_{key}", "")
            for key in ("institution", "reference", "fonds", "producer")
        }
    try:
        with unit_of_work() as uow:
            fields = editing.edit_metadata(uow, story_id, changes, user)
        changed = ", ".join(labels.label(field, "field") for field in fields)
        flash(_("Changed: %(fields)s.", fields=changed) if fields else _("Nothing changed."),
              "success")  # fmt: skip
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
        flash(_("Image rights saved."), "success")
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
        flash(_("The guardian's consent is recorded.") if what == "guardian" else _("Recorded."),
              "success")  # fmt: skip
    except PassagesError as exc:
        flash(exc.message, "error")
    return redirect(url_for("moderation.story", story_id=story_id), code=303)


@bp.post("/stories/<int:story_id>/erase")
@login_required
def erase(story_id: int):
    user = access.require_archivist(current_person())
    # The word to type is translated ("EFFACER"); the English one is always accepted too.
    if request.form.get("confirm", "").strip() not in ("ERASE", _("ERASE")):
        flash(_("Type %(word)s to confirm: erasure cannot be undone.", word=_("ERASE")), "error")
        return redirect(url_for("moderation.story", story_id=story_id), code=303)
    with unit_of_work() as uow:
        erasure.erase_story(uow, story_id, user)
    flash(_("Story %(id)s was erased. The audit log keeps only that it happened.", id=story_id),
          "success")  # fmt: skip
    return redirect(url_for("moderation.queue"), code=303)


@bp.post("/takedowns/<int:request_id>")
@login_required
def close_takedown(request_id: int):
    user = access.require_archivist(current_person())
    with unit_of_work() as uow:
        erasure.close_request(uow, request_id, request.form.get("state", ""), user)
    flash(_("Request closed."), "success")
    return redirect(url_for("moderation.queue"), code=303)
