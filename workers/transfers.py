"""Export and import jobs: idempotent functions of an export or import run's id.

``build_export(id)`` writes the BagIt zip under ``<data>/exports`` (a fixed name per run: a
retried job rewrites the same file) and keeps the run's progress up to date; a run already
``ready`` with its file present is left alone. ``run_import(id, "check")`` reads every row and
stores every problem, writing no story; ``run_import(id, "import")`` checks again, then creates
the stories row by row — each row its own unit of work together with the run's progress — and
skips rows whose import key is stored, so a retried, resumed or repeated run creates nothing
twice (the loop is ``webapp.interop.import_runs``, shared with ``passages import``).
"""

from __future__ import annotations

import logging

from webapp import reasons
from webapp.errors import NotFound
from webapp.extensions import db
from webapp.interop import bagit_export, csv_import, import_runs
from webapp.models import ExportRun, ImportRun, User, utcnow
from webapp.services import transfers
from webapp.unit_of_work import unit_of_work
from workers.context import app_context

log = logging.getLogger(__name__)

#: Problems kept on a run (the page lists them all up to this; the CLI prints every one).
MAX_STORED_PROBLEMS = 10000


def _update_export(export_id: int, **fields: object) -> None:
    with unit_of_work():
        run = db.session.get(ExportRun, export_id)
        for name, value in fields.items():
            setattr(run, name, value)


def build_export(export_id: int) -> str | None:
    """Build the bag of an export run; return its file name (``None`` when refused)."""
    with app_context():
        run = db.session.get(ExportRun, export_id)
        if run is None:
            return None
        name = transfers.export_file_name(run)
        target = transfers.exports_folder() / name
        if run.state == "ready" and target.is_file():
            return name  # done by an earlier delivery of this job
        slug, originals = run.collection_slug, run.originals
        _update_export(export_id, state="running", done=0, error=None)
        try:
            summary = bagit_export.write_bag(
                target,
                collection_slug=slug,
                originals=originals,
                progress=lambda done, total: _update_export(export_id, done=done, total=total),
            )
        except NotFound:
            reason = reasons.encode("collection_not_found", slug=slug or "")
            _update_export(export_id, state="failed", error=reason, finished_at=utcnow())
            return None
        _update_export(
            export_id,
            state="ready",
            done=summary.stories,
            total=summary.stories,
            file_name=name,
            byte_size=target.stat().st_size,
            finished_at=utcnow(),
        )
        return name


def export_gave_up(export_id: int, reason: str) -> None:
    """The worker gave the export up (time or memory limit, retries exhausted): say so."""
    with app_context():
        _update_export(export_id, state="failed", error=reason[:1000], finished_at=utcnow())


def import_gave_up(import_id: int, reason: str) -> None:
    with app_context(), unit_of_work():
        run = db.session.get(ImportRun, import_id)
        if run is not None and run.state != "done":
            run.state = "failed"
            run.error = reason[:1000]


def run_import(import_id: int, step: str) -> str | None:
    """Check (``step="check"``) or import (``"import"``) a staged import; return its state."""
    with app_context():
        run = db.session.get(ImportRun, import_id)
        if run is None:
            return None
        if run.state == "done" or (step == "check" and run.state != "checking"):
            return run.state  # an earlier delivery of this job got there
        path, images = transfers.staged_paths(run)
        organisation_id, as_status, actor_id = (
            run.organisation_id,
            run.as_status,
            run.requested_by_id,
        )
        try:
            source = csv_import.open_source(path, images)
        except csv_import.SourceRejected as exc:
            _finish_check(import_id, csv_import.CheckReport(problems=exc.problems))
            return "invalid"
        try:
            report = csv_import.check(source, organisation_id)
            if step == "check" or not report.ok:
                return _finish_check(import_id, report)
            actor = db.session.get(User, actor_id)
            import_runs.import_source(
                source, actor, as_status, organisation_id, import_id=import_id
            )
        finally:
            source.close()
        with unit_of_work():
            run = db.session.get(ImportRun, import_id)
            run.state = "done"
            run.finished_at = utcnow()
        return "done"


def _finish_check(import_id: int, report: csv_import.CheckReport) -> str:
    with unit_of_work():
        run = db.session.get(ImportRun, import_id)
        run.total = report.rows
        run.skipped = report.already_imported
        run.problems = [p.as_json() for p in report.problems[:MAX_STORED_PROBLEMS]]
        run.state = "checked" if report.ok else "invalid"
        if not report.ok:
            run.finished_at = utcnow()
        return run.state
