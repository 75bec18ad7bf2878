"""The ``passages backup``, ``restore``, ``check`` and ``collect`` commands (bodies elsewhere).

Each command opens what it needs, calls one function of :mod:`webapp.operations` and prints a
plain report; exit status 1 means "something needs a person". Nothing here holds a rule.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

log = logging.getLogger(__name__)


@click.command("backup")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="New (or empty) folder to write the backup into.",
)
@with_appcontext
def backup_command(out: Path) -> None:
    """Back up the database, every object, the secret key and settings, while the site runs."""
    from webapp.operations.backup import BackupError, backup

    try:
        report = backup(out)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"backup of the {report.database} database and {report.objects} object(s) "
        f"({report.bytes / 1048576:.1f} MB) written to {report.path}"
    )
    for key in report.missing:
        click.echo(f"warning: {key} is referenced but was not in the store", err=True)


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--no-reindex", is_flag=True, help="Do not rebuild the search index now.")
@with_appcontext
def restore_command(path: Path, no_reindex: bool) -> None:
    """Restore a backup into an empty data folder (or empty database and bucket)."""
    from webapp.operations.backup import BackupError, restore

    try:
        report = restore(path)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"restored the {report.database} database ({report.stories} stories) and "
        f"{report.objects} object(s)"
    )
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if not no_reindex:
        from webapp.services import backends, indexing

        count = backends.search_index().rebuild(indexing.all_documents())
        click.echo(f"search index rebuilt: {count} stories")
    click.echo(
        "images still pending at backup time are derived again by the reconciler when "
        "`passages worker` (or `passages run`) starts"
    )


@click.command("check")
@click.option("--fixity", is_flag=True, help="Hash every original against its recorded SHA-256.")
@click.option(
    "--repair",
    is_flag=True,
    help="Re-derive, re-index (through the outbox) and remove old orphans.",
)
@with_appcontext
def check_command(fixity: bool, repair: bool) -> None:
    """Check originals, derivatives, orphans and the index; exit 1 naming each problem."""
    from webapp.operations.checks import run_check

    result = run_check(fixity=fixity, repair=repair, trigger="cli")
    counts = ", ".join(f"{name} {value}" for name, value in sorted(result.counts.items()))
    click.echo(f"check {result.run_id}: {counts}")
    for problem in result.problems:
        click.echo(problem.line())
    if result.unrepaired:
        click.echo(f"{len(result.unrepaired)} problem(s) need attention", err=True)
        sys.exit(1)
    click.echo("no problem left" if result.problems else "everything is consistent")


@click.command("collect")
@click.option(
    "--grace-hours",
    type=float,
    default=None,
    help="Override PASSAGES_ORPHAN_GRACE_HOURS for this run.",
)
@with_appcontext
def collect_command(grace_hours: float | None) -> None:
    """Remove unreferenced objects older than the grace period, and stale partial uploads."""
    from datetime import timedelta

    from webapp.operations.collector import collect_leftovers

    grace = None if grace_hours is None else timedelta(hours=grace_hours)
    report = collect_leftovers(grace)
    click.echo(report.summary())
    for key in report.deleted:
        click.echo(f"deleted {key}")
    if report.errors:
        for error in report.errors:
            click.echo(f"error: {error}", err=True)
        sys.exit(1)


COMMANDS = [backup_command, restore_command, check_command, collect_command]
