"""Archivists' and admins' page on background work: what waits, runs, retries or failed.

Archivists start the long jobs (exports, imports, exhibitions, a rebuild) and follow them here;
the actions on the page (retry, purge, derive again) stay with administrators.

Long jobs (rebuilding the index, deriving images again, exports, imports, exhibitions) are
listed with their percentage and their end (``webapp.operations.long_jobs``); the page polls
``progress.json`` while anything is left to do, and refreshes itself without JavaScript.

Counts per queue and RQ registry, the outbox backlog, failed jobs with their error, and images
whose derivation failed with their reason. Buttons retry failed jobs, purge them, and ask for
failed images to be derived again (through the outbox, one unit of work, audited). Thin: every
read and action is in :mod:`webapp.operations.jobs`; a Redis that cannot be reached is said on
the page (the database part still shows), never a 500.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required

from webapp import labels, reasons
from webapp.auth import current_person
from webapp.errors import PassagesError
from webapp.identifiers import parse_id
from webapp.models import Role
from webapp.operations import jobs, long_jobs
from webapp.services import access, backends
from webapp.unit_of_work import unit_of_work

bp = Blueprint("jobs", __name__, url_prefix="/admin/jobs")

#: Registries whose jobs the page lists (queued jobs are only counted: they are waiting).
LISTED = ("failed", "scheduled", "started", "deferred")


@bp.get("/")
@login_required
def index():
    person = access.require_archivist(current_person())
    counts, listed, reconciler, unavailable = {}, [], {}, None
    try:
        counts = jobs.registry_counts()
        listed = jobs.list_jobs(registries=LISTED)
        reconciler = jobs.reconciler_figures()
    except jobs.QueuesUnavailable as exc:
        unavailable = exc.message
    response = make_response(
        render_template(
            "jobs/index.html",
            purposes=jobs.PURPOSES,
            registries=jobs.REGISTRIES,
            counts=counts,
            failed_jobs=[j for j in listed if j.registry == "failed"],
            other_jobs=[j for j in listed if j.registry != "failed"],
            unavailable=unavailable,
            reconciler=reconciler,
            reconciler_at=_moment(reconciler.get("last_run")),
            backlog=jobs.outbox_backlog(),
            failed_media=jobs.failed_media(),
            keep_days=backends.settings().keep_failed_jobs_days,
            progress=_progress(),
            can_act=person.has_role(Role.ADMIN),
        )
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/progress.json")
@login_required
def progress():
    """Polled by the page while work remains (re-derived images, queued jobs, outbox)."""
    access.require_archivist(current_person())
    response = jsonify(_progress())
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _progress() -> dict[str, Any]:
    """The queues' figures (``jobs.work_in_progress``) and each long job with its percentage
    and its end, in the reader's language; ``working`` while anything is left to do, so the
    page polls (or, without JavaScript, refreshes) until everything has ended."""
    figures: dict[str, Any] = dict(jobs.work_in_progress())
    listed = [_job(job) for job in long_jobs.long_jobs()]
    figures["jobs"] = listed
    if any(not job["ended"] for job in listed):
        figures["state"] = "working"
    return figures


def _job(job: long_jobs.LongJob) -> dict[str, Any]:
    percent = job.percent
    detail = reasons.words(job.reason) if job.reason else ""
    if job.failed_items:
        detail = ngettext("%(num)d image could not be processed.",
                          "%(num)d images could not be processed.", job.failed_items)  # fmt: skip
    return {
        "key": job.key,
        "kind": job.kind,
        "title": labels.label(job.kind, "long_job_kind"),
        "subject": job.subject,
        "state": job.state,
        "state_label": labels.label(job.state, "long_job"),
        "ended": job.ended,
        "done": job.done,
        "total": job.total,
        "percent": percent,
        "percent_label": "—" if percent is None else _("%(percent)s%%", percent=percent),
        "count_label": _("%(done)s of %(total)s", done=job.done, total=job.total)
        if job.total
        else "",
        "detail": detail,
        "started_at": _when(job.started_at),
        "ended_at": _when(job.ended_at) if job.ended else "",
    }


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def _moment(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, tz=UTC) if timestamp else None


def _said(exc: PassagesError) -> str:
    """The refusal in the reader's language (services word their errors in English)."""
    if isinstance(exc, jobs.UnknownJob):
        return _("No job %(id)s: it never existed, was deleted, or its record expired.",
                 id=exc.subject)  # fmt: skip
    if isinstance(exc, jobs.NotRetryable):
        return _("Job %(id)s is not failed: there is nothing to retry.", id=exc.subject)
    if isinstance(exc, jobs.NotFailedMedia):
        return _("Image %(id)s is not a failed image (any more).", id=exc.subject)
    if isinstance(exc, jobs.QueuesUnavailable):
        return _("Redis does not answer: nothing could be done about jobs. Try again later.")
    return exc.message


def _back():
    return redirect(url_for("jobs.index"), code=303)


@bp.post("/retry")
@login_required
def retry():
    access.require_admin(current_person())
    try:
        if request.form.get("all"):
            count = jobs.retry_all_failed()
            flash(
                ngettext(
                    "%(num)d failed job put back on its queue.",
                    "%(num)d failed jobs put back on their queues.",
                    count,
                ),
                "success",
            )
        else:
            job = jobs.retry_job(request.form.get("job_id", ""))
            flash(_("Job %(id)s put back on the %(queue)s queue.", id=job.id, queue=job.queue),
                  "success")  # fmt: skip
    except PassagesError as exc:
        flash(_said(exc), "error")
    return _back()


@bp.post("/purge")
@login_required
def purge():
    access.require_admin(current_person())
    raw = request.form.get("older_than_days", "").strip()
    try:
        older_than = None if raw in ("", "all") else timedelta(days=_days(raw))
        count = jobs.purge_failed(older_than)
        flash(ngettext("%(num)d failed job deleted.", "%(num)d failed jobs deleted.", count),
              "success")  # fmt: skip
    except PassagesError as exc:
        flash(_said(exc), "error")
    return _back()


def _days(raw: str) -> float:
    try:
        days = float(raw)
    except ValueError:
        days = -1.0
    if not 0 <= days <= 36500:
        raise PassagesError(_("Give the age in days (a number, 0 or more)."), field="older_than")
    return days


@bp.post("/rederive")
@login_required
def rederive():
    """Ask for one failed image (``media_id``) or every failed image (``all``) to be derived."""
    admin = access.require_admin(current_person())
    media_ids = None
    if not request.form.get("all"):
        media_id = parse_id(request.form.get("media_id", ""))
        if media_id is None:
            flash(_("Choose an image."), "error")
            return _back()
        media_ids = [media_id]
    try:
        with unit_of_work() as uow:
            count = jobs.rederive_failed_media(uow, admin, media_ids)
    except PassagesError as exc:
        flash(_said(exc), "error")
        return _back()
    flash(ngettext("%(num)d image will be derived again; it is pending until a worker is done.",
                   "%(num)d images will be derived again; they are pending until a worker is done.",
                   count), "success")  # fmt: skip
    return _back()
