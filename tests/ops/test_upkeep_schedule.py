"""The collector and the weekly check run from RQ's scheduler and schedule their successor."""

from __future__ import annotations

import pytest
from rq.registry import ScheduledJobRegistry

from tests.conftest import _dispose, build_app


@pytest.fixture
def redis_app(tmp_path, redis_server):
    app = build_app(tmp_path / "data", REDIS_URL=redis_server.url)
    yield app
    _dispose(app)


def _scheduled_ids(app) -> list[str]:
    from webapp.services import backends

    with app.app_context():
        queue = backends.queue("default")
        return ScheduledJobRegistry(queue=queue).get_job_ids()


def test_worker_start_schedules_the_collector_and_the_check_once(redis_app) -> None:
    from workers.upkeep import ensure_scheduled

    with redis_app.app_context():
        ensure_scheduled()
        ensure_scheduled()  # a second worker starting: nothing scheduled twice

    ids = _scheduled_ids(redis_app)
    assert len([i for i in ids if "-collect-" in i]) == 1
    assert len([i for i in ids if "-check-" in i]) == 1


def test_a_scheduled_check_stores_its_run_and_schedules_the_next(redis_app) -> None:
    from webapp.extensions import db
    from webapp.models import CheckRun
    from workers.context import use_app
    from workers.upkeep import scheduled_check, scheduled_collect

    use_app(redis_app)
    summary = scheduled_check()
    collected = scheduled_collect()

    assert "0 problem(s) need attention" in summary
    assert "deleted 0 object(s)" in collected
    with redis_app.app_context():
        run = db.session.scalars(db.select(CheckRun)).one()
        assert (run.trigger, run.fixity, run.repair) == ("scheduled", True, True)
    ids = _scheduled_ids(redis_app)
    assert any("-check-" in i for i in ids) and any("-collect-" in i for i in ids)
