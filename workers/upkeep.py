"""Scheduled upkeep of the archive: the leftover collector and the weekly consistency check.

Both are RQ jobs on the ``default`` queue, put in time slots by RQ's scheduler (every
``passages worker`` runs one): each run schedules its successor, and every worker start makes
sure the next run is scheduled, with job ids naming the slot so that any number of workers
schedule each run once. The bodies live in :mod:`webapp.operations`; this module only runs them
in a job's app context. Nothing here may delete anything by itself.
"""

from __future__ import annotations

import logging

from webapp.services import backends
from workers.context import app_context

log = logging.getLogger(__name__)

COLLECT = "workers.upkeep.scheduled_collect"
CHECK = "workers.upkeep.scheduled_check"


def _intervals() -> dict[str, tuple[str, int]]:
    settings = backends.settings()
    return {
        "collect": (COLLECT, int(settings.collect_interval_hours * 3600)),
        "check": (CHECK, int(settings.check_interval_days * 86400)),
    }


def ensure_scheduled() -> None:
    """Schedule the next collector run and the next check (called when a worker starts)."""
    from workers.reconcile import schedule_next

    for name, (func, interval) in _intervals().items():
        schedule_next(name, func, interval)


def scheduled_collect() -> str:
    """Collect leftovers and expired idempotency records, then schedule the next run."""
    from webapp.operations.collector import collect_leftovers
    from webapp.services import idempotency
    from webapp.unit_of_work import unit_of_work
    from workers.reconcile import schedule_next

    with app_context():
        try:
            report = collect_leftovers()
            with unit_of_work() as uow:
                expired = idempotency.prune(uow)
            return f"{report.summary()}; {expired} expired idempotency record(s)"
        finally:
            schedule_next("collect", *_intervals()["collect"])


def scheduled_check() -> str:
    """The weekly check with fixity; repairs derived data and leftovers; stores the run."""
    from webapp.operations.checks import run_check
    from workers.reconcile import schedule_next

    with app_context():
        try:
            result = run_check(fixity=True, repair=True, trigger="scheduled")
            return f"check {result.run_id}: {len(result.unrepaired)} problem(s) need attention"
        finally:
            schedule_next("check", *_intervals()["check"])
