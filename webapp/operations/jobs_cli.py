"""``passages jobs``: list, show, retry and purge background jobs from a terminal.

For the IT person on call: plain lines that say where each job is and why it failed, an exit
status of 1 with a specific message when something cannot be done (an unknown id, a job that
is not failed, Redis unreachable). The bodies are in :mod:`webapp.operations.jobs`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import click
from flask.cli import with_appcontext

from webapp import reasons
from webapp.errors import PassagesError
from webapp.operations import jobs


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _fail(exc: PassagesError) -> click.ClickException:
    return click.ClickException(exc.message)


@click.group("jobs")
def jobs_group() -> None:
    """Background jobs: what is waiting, running, scheduled for a retry or failed."""


@jobs_group.command("list")
@click.option("--queue", "queues", multiple=True, type=click.Choice(jobs.PURPOSES))
@click.option(
    "--registry",
    "registries",
    multiple=True,
    type=click.Choice(jobs.REGISTRIES),
    help="Default: every registry but 'queued' (whose jobs are only waiting their turn).",
)
@with_appcontext
def list_command(queues: tuple[str, ...], registries: tuple[str, ...]) -> None:
    """Counts per queue and registry, the outbox backlog, then the jobs themselves."""
    chosen = registries or tuple(r for r in jobs.REGISTRIES if r != "queued")
    try:
        counts = jobs.registry_counts()
        found = jobs.list_jobs(queues or None, chosen)
    except PassagesError as exc:
        raise _fail(exc) from exc
    click.echo(f"{'queue':<9}" + "".join(f"{name:>11}" for name in jobs.REGISTRIES))
    for purpose in queues or jobs.PURPOSES:
        row = counts[purpose]
        click.echo(f"{purpose:<9}" + "".join(f"{row[name]:>11}" for name in jobs.REGISTRIES))
    backlog = jobs.outbox_backlog()
    click.echo(
        f"outbox: {backlog.unrelayed} event(s) waiting for the relay, oldest "
        f"{backlog.oldest_age_seconds():.0f} s, {len(backlog.with_errors)} with a relay error"
    )
    if not found:
        click.echo(f"no job in {', '.join(chosen)}")
        return
    for job in found:
        click.echo(
            f"{job.id}  {job.queue}/{job.registry}  {_when(job.when)}  "
            f"{job.function}({job.arguments})"
        )
        if job.error:
            click.echo(f"    {job.error}")


@jobs_group.command("show")
@click.argument("job_id")
@with_appcontext
def show_command(job_id: str) -> None:
    """One job: function, arguments, timestamps and the end of its traceback."""
    try:
        detail = jobs.job_detail(job_id)
    except PassagesError as exc:
        raise _fail(exc) from exc
    job = detail.summary
    for label, value in (
        ("job", job.id),
        ("queue", job.queue),
        ("status", job.status),
        ("function", job.function),
        ("arguments", job.arguments or "-"),
        ("description", job.description or "-"),
        ("created", _when(job.created_at)),
        ("enqueued", _when(job.enqueued_at)),
        ("started", _when(job.started_at)),
        ("ended", _when(job.ended_at)),
        ("retries left", "-" if detail.retries_left is None else detail.retries_left),
        ("timeout", f"{detail.timeout} s" if detail.timeout else "-"),
    ):
        click.echo(f"{label + ':':<13} {value}")
    if detail.traceback:
        click.echo(f"last error (end of traceback):\n{jobs.traceback_tail(detail.traceback)}")
    elif job.error:
        click.echo(f"last error: {job.error}")


@jobs_group.command("retry")
@click.argument("job_id", required=False)
@click.option("--all-failed", is_flag=True, help="Every failed job (of --queue, if given).")
@click.option("--queue", "queues", multiple=True, type=click.Choice(jobs.PURPOSES))
@with_appcontext
def retry_command(job_id: str | None, all_failed: bool, queues: tuple[str, ...]) -> None:
    """Put a failed job (or every failed job) back on its queue; a worker runs it again."""
    if bool(job_id) == all_failed:
        raise click.UsageError("give either a JOB_ID or --all-failed")
    try:
        if all_failed:
            click.echo(f"{jobs.retry_all_failed(queues or None)} failed job(s) put back on queue")
            return
        job = jobs.retry_job(job_id)
    except PassagesError as exc:
        raise _fail(exc) from exc
    click.echo(f"job {job.id} ({job.function}) put back on the {job.queue} queue")


@jobs_group.command("purge")
@click.option(
    "--older-than",
    "days",
    type=click.FloatRange(min=0),
    default=None,
    help="Only jobs that failed more than DAYS ago (default: every failed job).",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def purge_command(days: float | None, yes: bool) -> None:
    """Delete failed jobs and their errors (the hourly pruning does it past
    PASSAGES_KEEP_FAILED_JOBS_DAYS)."""
    scope = "every failed job" if days is None else f"failed jobs older than {days:g} day(s)"
    if not yes:
        click.confirm(f"Delete {scope}?", abort=True)
    try:
        removed = jobs.purge_failed(None if days is None else timedelta(days=days))
    except PassagesError as exc:
        raise _fail(exc) from exc
    click.echo(f"purged {removed} failed job(s)")


@jobs_group.command("failed-media")
@click.option("--rederive", "rederive", is_flag=True, help="Derive every listed image again.")
@click.option("--media", "media_ids", multiple=True, type=int, help="Only this image (repeatable).")
@with_appcontext
def failed_media_command(rederive: bool, media_ids: tuple[int, ...]) -> None:
    """Images whose derivation failed, with the reason; --rederive asks for them again.

    Re-deriving puts each image back to pending and writes a ``media.rederive_requested``
    event (audited), as the button on /admin/jobs does; a worker does the work.
    """
    from webapp.unit_of_work import unit_of_work

    listed = [
        m for m in jobs.failed_media(limit=10_000) if not media_ids or m.media_id in media_ids
    ]
    if not rederive:
        for media in listed:
            click.echo(
                f"image {media.media_id}  story {media.story_id}  {_when(media.failed_at)}  "
                f"{media.filename}: {reasons.words(media.reason)}"
            )
        click.echo(f"{len(listed)} failed image(s)")
        return
    try:
        with unit_of_work() as uow:
            count = jobs.rederive_failed_media(uow, None, list(media_ids) or None)
    except PassagesError as exc:
        raise _fail(exc) from exc
    click.echo(f"{count} image(s) will be derived again (pending until a worker is done)")
