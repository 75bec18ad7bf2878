"""The ``passages`` command: run the site, workers and the relay; manage users, tokens, index.

``passages run --demo`` is the embedded default in one command: it upgrades the database, starts
the embedded Redis, a worker process and the outbox relay, loads demo content and serves the site.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, routes_command, shell_command

from webapp.extensions import db


def _create_app() -> Flask:
    from webapp import create_app

    os.umask(0o077)  # database, objects, index and Redis dumps: readable by this account only
    # Commands (worker, reindex…) never warm the search index; ``passages run`` does it itself.
    return create_app({"PASSAGES_SEARCH_WARMUP": "0"})


main = FlaskGroup(
    name="passages",
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    help="Passages: collect, curate and publish the memory of migration.",
)
main.add_command(shell_command)
main.add_command(routes_command)


def _configure_logging() -> None:
    logging.basicConfig(
        level=os.environ.get("PASSAGES_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _upgrade_database() -> None:
    from flask_migrate import upgrade

    upgrade(directory=str(current_app.extensions["migrate"].directory), revision="heads")


#: ``--host`` values that name no address a visitor could use.
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})


@main.command("run")
@click.option("--demo", is_flag=True, help="Load demo stories, images and logins.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-worker", is_flag=True, help="Do not start a background worker process.")
def run_command(demo: bool, host: str, port: int, no_worker: bool) -> None:
    """Serve the site with everything it needs on this machine (embedded defaults), supervised."""
    from workers.supervisor import AlreadyRunning, run_site

    _configure_logging()
    app = current_app._get_current_object()
    if app.extensions["passages.settings"].public_url is None:
        if host in WILDCARD_HOSTS:
            click.echo("Serving on every interface: set PUBLIC_URL so links name the site.")
        else:
            from webapp import hardening

            url = f"http://{host}:{port}/"
            hardening.serve_at(app, url)  # links name the address served, not the Host header
            os.environ["PUBLIC_URL"] = url  # the worker (e-mails) inherits it
    from webapp.config import TRUE_WORDS

    warm = os.environ.get("PASSAGES_SEARCH_WARMUP", "").strip().lower()
    if not warm or warm in TRUE_WORDS:
        from webapp import search_warmup

        search_warmup.start(app)  # the site is served from this process
    try:
        run_site(
            current_app._get_current_object(),
            host=host,
            port=port,
            demo=demo,
            start_worker=not no_worker,
            echo=click.echo,
            upgrade=_upgrade_database,
        )
    except AlreadyRunning as exc:
        raise click.ClickException(str(exc)) from exc


@main.command("worker")
@click.option("--burst", is_flag=True, help="Relay pending events, do all jobs, then exit.")
@click.option(
    "--queues",
    default="search,images,default,recordings",
    show_default=True,
    help="Comma-separated queue purposes to serve.",
)
def worker_command(burst: bool, queues: str) -> None:
    """Run an RQ worker for Passages' background jobs."""
    from workers.worker import run_worker

    _configure_logging()
    purposes = [q.strip() for q in queues.split(",") if q.strip()]
    run_worker(current_app._get_current_object(), purposes, burst=burst)


@main.command("reconcile")
@click.option(
    "--grace",
    type=float,
    default=None,
    help="Seconds work may wait before it counts as stuck (default PASSAGES_RECONCILE_GRACE).",
)
def reconcile_command(grace: float | None) -> None:
    """Find work lost after the relay (pending images, stale index, erasures) and re-emit it."""
    from workers.reconcile import RegistriesUnavailable, reconcile

    _configure_logging()
    try:
        findings = reconcile(grace)
    except RegistriesUnavailable as exc:
        raise click.ClickException(f"{exc}; nothing was re-emitted") from exc
    click.echo(f"{findings.summary()}; re-emitted {findings.emitted} event(s)")


@main.command("relay")
@click.option("--once", is_flag=True, help="Relay what is pending and exit.")
def relay_command(once: bool) -> None:
    """Move committed outbox events to the queues (runs until stopped)."""
    from webapp.services import backends
    from workers.relay import RelayThread, relay_once

    _configure_logging()
    if once:
        total = 0
        while n := relay_once():
            total += n
        click.echo(f"relayed {total} event(s)")
        return
    thread = RelayThread(current_app._get_current_object(), backends.settings().relay_interval)
    thread.start()
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        thread.stop()


@main.command("create-user")
@click.option("--email", required=True)
@click.option(
    "--role",
    required=True,
    type=click.Choice(["contributor", "teacher", "archivist", "admin"]),
)
@click.option("--password", required=True)
@click.option("--name", "display_name", default=None, help="Name shown in the interface.")
def create_user_command(email: str, role: str, password: str, display_name: str | None) -> None:
    """Create a user (or reset the password and role of an existing one, ending its sessions)."""
    from webapp.services.accounts import AccountError, create_or_update_user
    from webapp.unit_of_work import unit_of_work

    try:
        with unit_of_work() as uow:
            user, created = create_or_update_user(uow, email, role, password, display_name)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{'created' if created else 'updated'} {user.role} {user.email} (id {user.id})")


@main.command("create-token")
@click.option("--email", required=True)
@click.option("--label", default="cli")
@click.option(
    "--days",
    type=int,
    default=None,
    help="Lifetime in days (default API_TOKEN_DAYS, 365; 0 = never expires).",
)
def create_token_command(email: str, label: str, days: int | None) -> None:
    """Issue an API token for a user; the token is printed alone on the last line."""
    from webapp.services.accounts import AccountError, issue_token
    from webapp.unit_of_work import unit_of_work

    try:
        with unit_of_work() as uow:
            row, token = issue_token(uow, email, label, days)
            expires = row.expires_at.strftime("%Y-%m-%d") if row.expires_at else "never"
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"API token {row.id} for {email}, expires {expires} "
        "(shown once; send it as 'Authorization: Bearer <token>'):"
    )
    click.echo(token)


@main.command("list-tokens")
@click.option("--email", default=None, help="Only this user's tokens.")
def list_tokens_command(email: str | None) -> None:
    """List API tokens (never the secret): id, owner, label, expiry, last use, state."""
    from webapp.services.accounts import all_tokens

    for row in all_tokens(email):
        expires = row.expires_at.strftime("%Y-%m-%d") if row.expires_at else "never"
        used = row.last_used_at.strftime("%Y-%m-%d %H:%M") if row.last_used_at else "-"
        state = "active"
        if row.revoked:
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "revoked"
        owner = row.user.email or row.user.display_name
        click.echo(f"{row.id}\t{owner}\t{row.label}\texpires {expires}\tused {used}\t{state}")


@main.command("revoke-token")
@click.argument("token_id", type=int)
def revoke_token_command(token_id: int) -> None:
    """Revoke an API token by its id (see list-tokens); it stops working at once."""
    from webapp.errors import NotFound
    from webapp.services.accounts import revoke_token
    from webapp.unit_of_work import unit_of_work

    try:
        with unit_of_work() as uow:
            revoke_token(uow, None, token_id)
    except NotFound as exc:
        raise click.ClickException(f"no token with id {token_id}") from exc
    click.echo(f"token {token_id} revoked")


@main.command("deactivate-user")
@click.option("--email", required=True)
@click.option("--reactivate", is_flag=True, help="Let the user log in again.")
def deactivate_user_command(email: str, reactivate: bool) -> None:
    """Deactivate a user (sessions end, tokens stop working) or reactivate them."""
    from webapp.services.accounts import find_by_email
    from webapp.unit_of_work import unit_of_work

    with unit_of_work():
        user = find_by_email(email)
        if user is None:
            raise click.ClickException(f"no user with e-mail {email}")
        user.active = reactivate
    click.echo(f"{email} {'reactivated' if reactivate else 'deactivated'}")


@main.command("reindex")
def reindex_command() -> None:
    """Rebuild the search index from the database and swap it in while search keeps serving."""
    from workers.context import use_app
    from workers.search import rebuild_index

    _configure_logging()
    use_app(current_app._get_current_object())
    count = rebuild_index()
    click.echo(f"reindexed {count} stories")


@main.command("check-index")
def check_index_command() -> None:
    """Compare the public stories of the database and of the search index; exit 1 if they differ.

    The index is rebuilt from the database, so a difference means an update was lost: run
    ``passages reindex``.
    """
    from webapp.services import backends, visibility

    in_database = visibility.public_story_ids()
    in_index = backends.search_index().visible_ids(public=True)
    missing, extra = sorted(in_database - in_index), sorted(in_index - in_database)
    click.echo(f"public stories: {len(in_database)} in the database, {len(in_index)} in the index")
    if missing:
        click.echo(f"not searchable although public: {missing[:50]}")
    if extra:
        click.echo(f"searchable although not public: {extra[:50]}")
    if missing or extra:
        raise SystemExit(1)


@main.command("rederive")
@click.option("--all", "all_stories", is_flag=True, help="Every image of every story.")
@click.option("--story", "story_ids", multiple=True, type=int, help="A story id (repeatable).")
@click.option("--wait", is_flag=True, help="Poll until every job has ended, printing counts.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between polls.")
@click.option("--timeout", default=3600.0, show_default=True, help="Give up waiting after this.")
def rederive_command(
    all_stories: bool, story_ids: tuple[int, ...], wait: bool, interval: float, timeout: float
) -> None:
    """Re-run image derivatives as background jobs (after a change to derivative settings).

    The requests go through the outbox like any event, so a worker (``passages worker``) does
    the work; exits 1 when waiting ends with failed images or times out.
    """
    import time

    from webapp.operations.long_jobs import rederive_progress
    from webapp.unit_of_work import unit_of_work
    from workers.images import request_rederive
    from workers.relay import relay_once

    _configure_logging()
    if all_stories == bool(story_ids):
        raise click.UsageError("give either --all or one or more --story ID")
    with unit_of_work() as uow:
        event_ids = request_rederive(uow, None if all_stories else list(story_ids))
    total = sum(rederive_progress(event_ids).values())
    try:
        while relay_once():
            pass
    except Exception as exc:  # the relay retries later; the requests are committed either way
        logging.getLogger(__name__).warning("relay pass failed: %s", exc)
    click.echo(f"requested {total} image(s) in {len(event_ids)} story(ies)")
    if not wait or total == 0:
        return
    deadline = time.monotonic() + timeout
    while True:
        counts = rederive_progress(event_ids)
        click.echo(
            f"ready {counts['ready']}  failed {counts['failed']}  pending {counts['pending']}"
        )
        if counts["pending"] == 0:
            sys.exit(1 if counts["failed"] else 0)
        if time.monotonic() > deadline:
            click.echo("timed out waiting; the jobs go on in the background")
            sys.exit(1)
        time.sleep(interval)


@main.command("load-demo")
def load_demo_command() -> None:
    """Load the demo stories and logins (safe to run twice)."""
    from webapp.demo import demo_class_code, load_demo

    for role, email, password in load_demo():
        click.echo(f"{role:<11} {email}  password: {password}")
    click.echo(f"demo class code: {demo_class_code()}")


def _add_optional_commands() -> None:
    try:
        from workers.derive_command import derive_command
    except ImportError:  # pragma: no cover - the image module is part of the package
        return
    main.add_command(derive_command)


def _add_operations_commands() -> None:
    """``backup``, ``restore``, ``check``, ``collect``: bodies in ``webapp.operations``."""
    from webapp.operations.commands import COMMANDS

    for command in COMMANDS:
        main.add_command(command)
    from webapp.operations.jobs_cli import jobs_group

    main.add_command(jobs_group)


def _add_interop_commands() -> None:
    """``export`` (BagIt) and ``import`` (CSV or bag): bodies in ``webapp.interop``."""
    from webapp.interop.commands import COMMANDS

    for command in COMMANDS:
        main.add_command(command)


_add_optional_commands()
_add_operations_commands()
_add_interop_commands()

__all__ = ["main", "db"]

if __name__ == "__main__":
    main()
