"""The import loop: row after row, each its own unit of work, for the job and the command.

Shared by ``workers.transfers.run_import`` and ``passages import``, so the command line and the
curation screen import exactly alike. A row is one transaction holding its story, events, audit
entry and the run's counters: a crash loses at most the row in progress, and running again skips
every row whose import key is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.interop import csv_import
from webapp.models import ImportRun, User
from webapp.unit_of_work import unit_of_work

log = logging.getLogger(__name__)


def import_source(
    source: csv_import.Source,
    actor: User,
    as_status: str,
    organisation_id: int | None,
    *,
    import_id: int | None = None,
    echo: Callable[[str], None] | None = None,
) -> tuple[int, int]:
    """Import every row of a source that passed the check; return ``(created, skipped)``.

    Each row is one unit of work (its story, events, audit entry and the run's counters), so a
    crash loses at most the row in progress and a new run goes on from there.
    """
    actor_id = actor.id
    created = skipped = 0
    report = csv_import.CheckReport()
    if import_id is not None:
        with unit_of_work():
            run = db.session.get(ImportRun, import_id)
            run.done = run.created = run.skipped = 0
    for planned in csv_import.planned_rows(source, report, organisation_id):
        made = False
        if csv_import.imported_story_id(planned.key, source.bag_instance) is None:
            try:
                with unit_of_work() as uow:
                    actor = db.session.get(User, actor_id)
                    story = csv_import.import_row(
                        uow, planned, source.images, actor, as_status, import_id
                    )
                    _count(import_id, created=True)
                made = True
                log.info("import %s row %s: story %s", import_id, planned.row, story.id)
            except IntegrityError:
                log.info("import %s row %s: imported meanwhile", import_id, planned.row)
        if not made:
            with unit_of_work():
                _count(import_id, created=False)
        created += made
        skipped += not made
        if echo:
            echo(f"row {planned.row}: {'created' if made else 'already imported, skipped'}")
    if report.problems:  # the files changed since the check: say so, keep what was done
        raise csv_import.SourceRejected(report.problems)
    return created, skipped


def _count(import_id: int | None, *, created: bool) -> None:
    if import_id is None:
        return
    run = db.session.get(ImportRun, import_id)
    run.done += 1
    if created:
        run.created += 1
    else:
        run.skipped += 1


def import_file(
    path: Path,
    images: Path | None,
    actor: User,
    as_status: str,
    organisation_id: int | None,
    echo: Callable[[str], None],
) -> tuple[int, int]:
    """``passages import``: the same loop as the job, without a run row (keys make it
    resumable all the same)."""
    source = csv_import.open_source(path, images)
    try:
        return import_source(source, actor, as_status, organisation_id, echo=echo)
    finally:
        source.close()
