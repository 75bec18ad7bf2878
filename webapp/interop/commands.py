"""The ``passages export`` and ``passages import`` commands (bodies in :mod:`webapp.interop`).

The command line does what the curation screen does, in the foreground: the same bag writer,
the same check (every problem, nothing written) and the same row-by-row import, resumable by
running the command again. Nothing here holds a rule.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext


@click.command("export")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The .zip to write.")
@click.option("--collection", default=None, help="Only the stories of this collection (slug).")
@click.option(
    "--originals", is_flag=True, help="The untouched originals instead of the largest public image."
)
@with_appcontext
def export_command(out: Path, collection: str | None, originals: bool) -> None:
    """Write the published archive as a BagIt bag (zip): stories.csv, JSON, images, manifests."""
    from webapp.errors import NotFound
    from webapp.interop.bagit_export import write_bag

    if out.suffix != ".zip":
        raise click.UsageError("--out must name a .zip file")

    def progress(done: int, total: int) -> None:
        click.echo(f"{done}/{total} stories", err=True)

    try:
        summary = write_bag(out, collection_slug=collection, originals=originals, progress=progress)
    except NotFound as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(
        f"{summary.stories} stories, {summary.images} images, "
        f"{summary.payload_bytes / 1048576:.1f} MB written to {out}"
    )


@click.command("import")
@click.argument("source", type=click.Path(path_type=Path, exists=True))
@click.option(
    "--images",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="Folder or .zip holding the images the CSV names.",
)
@click.option(
    "--dry-run", is_flag=True, help="Check every row and print every problem; write nothing."
)
@click.option(
    "--as",
    "as_status",
    type=click.Choice(["submitted", "published"]),
    default="submitted",
    show_default=True,
    help="Create the stories for review, or published at once.",
)
@click.option("--organisation", default=None, help="Organisation of every story (name or slug).")
@click.option(
    "--by",
    "by_email",
    default=None,
    help="E-mail of the archivist the import is recorded for (default: the first admin).",
)
@with_appcontext
def import_command(
    source: Path,
    images: Path | None,
    dry_run: bool,
    as_status: str,
    organisation: str | None,
    by_email: str | None,
) -> None:
    """Import stories from a CSV (the export's columns) and its images, or from an exported bag."""
    from webapp.interop import csv_import, import_runs
    from webapp.services import transfers

    organisation_id = None
    if organisation:
        found = transfers.organisation_named(organisation)
        if found is None:
            raise click.ClickException(f"no organisation named {organisation!r}")
        organisation_id = found.id
    try:
        opened = csv_import.open_source(source, images)
    except csv_import.SourceRejected as exc:
        _print_problems(exc.problems)
        sys.exit(1)
    try:
        report = csv_import.check(opened, organisation_id)
    finally:
        opened.close()
    _print_problems(report.problems)
    click.echo(
        f"{report.rows} rows, {len(report.problems)} problem(s), "
        f"{report.already_imported} already imported"
    )
    if not report.ok:
        click.echo("nothing was imported", err=True)
        sys.exit(1)
    if dry_run:
        return
    actor = transfers.importing_person(by_email)
    if actor is None:
        raise click.ClickException("name an active archivist or admin with --by EMAIL")
    created, skipped = import_runs.import_file(
        source, images, actor, as_status, organisation_id, echo=click.echo
    )
    click.echo(f"{created} stories created, {skipped} rows already imported")


def _print_problems(problems: list) -> None:
    for problem in problems:
        where = f"row {problem.row}" if problem.row else "file"
        column = f", column {problem.column}" if problem.column else ""
        click.echo(f"{where}{column}: {problem.text()}", err=True)


COMMANDS = (export_command, import_command)
