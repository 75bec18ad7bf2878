"""One user action, one transaction: the unit of work that views and jobs open and services use.

Why: an archive is trusted when what people do is recorded exactly once. If services committed by
themselves, one click would become several transactions, and a failure half-way would leave half
an action stored (edits saved although the hand-in was refused, a draft that was "submitted"
first). So a view (or a job, or a CLI command) opens a unit of work and passes it to the services;
services add rows and outbox events to the session and register what must happen afterwards, but
they never commit. The unit of work commits once, at the end, then runs what was registered for
after the commit; if anything fails it rolls back and runs the compensations registered for a
rollback (for example, removing objects a failed submission had already written to storage).

Follow-up *work* (index a story, derive images, send an e-mail) is never registered here: it is an
outbox row written inside the transaction (``webapp.services.outbox.emit``), so a broker outage
after the commit loses nothing. ``after_commit`` is for cheap, in-process things that may be lost
without harm (a log line, waking the relay, dropping a cache entry).

Usage, in a view::

    with unit_of_work() as uow:
        story = submissions.submit(uow, user, metadata, images)
    return redirect(...)

In the spirit of InvenioRDM's ``invenio_records_resources.services.uow``. This module is the only
place in the application code that calls ``commit()`` on the database session.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import g, has_app_context

from webapp.extensions import db

log = logging.getLogger(__name__)


class UnitOfWorkError(RuntimeError):
    """A unit of work was used in a way that would break "one action, one transaction"."""


class UnitOfWork:
    """Collects one action's changes; commits once; runs after-commit or rollback operations."""

    def __init__(self, session: Any | None = None) -> None:
        self.session = session if session is not None else db.session
        self._after_commit: list[Callable[[], None]] = []
        self._on_rollback: list[Callable[[], None]] = []
        self.state = "open"  # open → committed | rolled_back

    # --- what services call ---------------------------------------------------------------

    def add(self, obj: Any) -> Any:
        """Add a row to this action's transaction and return it."""
        self._require_open()
        self.session.add(obj)
        return obj

    def flush(self) -> None:
        """Send pending rows to the database (ids, constraint checks) without committing."""
        self._require_open()
        self.session.flush()

    def after_commit(self, operation: Callable[[], None]) -> None:
        """Run ``operation`` once the transaction is committed. Failures there are logged, never
        raised: the action has happened, and what runs here must be safe to lose."""
        self._require_open()
        self._after_commit.append(operation)

    def on_rollback(self, operation: Callable[[], None]) -> None:
        """Run ``operation`` if the transaction does not commit: undo side effects outside the
        database (objects written to storage). Run in reverse order of registration."""
        self._require_open()
        self._on_rollback.append(operation)

    # --- what the opener calls ------------------------------------------------------------

    def commit(self) -> None:
        """Commit the action. Called once, by whoever opened the unit of work."""
        self._require_open()
        try:
            self.session.commit()
        except BaseException:
            self.rollback()
            raise
        self.state = "committed"
        for operation in self._after_commit:
            try:
                operation()
            except Exception:  # noqa: BLE001 - the action is committed; say so and go on
                log.exception("after-commit operation %r failed", operation)

    def rollback(self) -> None:
        """Undo the action: roll the session back and run the compensations."""
        if self.state != "open":
            return
        self.state = "rolled_back"
        try:
            self.session.rollback()
        finally:
            for operation in reversed(self._on_rollback):
                try:
                    operation()
                except Exception:  # noqa: BLE001 - compensations are best effort, and logged
                    log.exception("rollback compensation %r failed", operation)

    def _require_open(self) -> None:
        if self.state != "open":
            raise UnitOfWorkError(f"this unit of work is already {self.state}")


@contextmanager
def unit_of_work(session: Any | None = None) -> Iterator[UnitOfWork]:
    """Open a unit of work; commit when the block ends normally, roll back if it raises.

    Nesting is refused: a service that opened its own unit of work inside an action would commit
    part of that action on its own. A rollback compensation may open one: by then the action's
    transaction has ended (state ``rolled_back``), so its work is not part of the action.
    """
    current = g.get("passages_uow") if has_app_context() else None
    if current is not None and current.state == "open":
        raise UnitOfWorkError("a unit of work is already open for this action; pass it down")
    uow = UnitOfWork(session)
    if has_app_context():
        g.passages_uow = uow
    try:
        yield uow
        if uow.state == "open":
            uow.commit()
    except BaseException:
        uow.rollback()
        raise
    finally:
        if has_app_context():
            g.pop("passages_uow", None)
