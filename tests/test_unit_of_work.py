"""The unit of work: one action commits once, or leaves nothing behind."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Organisation
from webapp.unit_of_work import UnitOfWorkError, unit_of_work


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(Organisation))


def test_an_action_commits_once_and_then_runs_what_was_registered(ctx):
    ran: list[str] = []
    with unit_of_work() as uow:
        uow.add(Organisation(name="Collège Jean Vilar"))
        uow.after_commit(lambda: ran.append("after"))
        uow.on_rollback(lambda: ran.append("undo"))
        assert ran == []
    assert ran == ["after"]
    db.session.remove()
    assert _count() == 1


def test_a_failed_action_stores_nothing_and_runs_its_compensations(ctx):
    ran: list[str] = []
    with pytest.raises(RuntimeError), unit_of_work() as uow:
        uow.add(Organisation(name="Association Mémoires"))
        uow.flush()
        uow.on_rollback(lambda: ran.append("first"))
        uow.on_rollback(lambda: ran.append("second"))
        raise RuntimeError("refused")
    assert ran == ["second", "first"]
    assert _count() == 0


def test_a_commit_that_fails_rolls_back_and_compensates(ctx):
    ran: list[str] = []
    with unit_of_work() as uow:
        uow.add(Organisation(name="Dupliquée"))
    with pytest.raises(Exception), unit_of_work() as uow:  # noqa: B017 - the driver's error
        uow.add(Organisation(name="Dupliquée"))  # unique name: the commit itself fails
        uow.on_rollback(lambda: ran.append("undo"))
    assert ran == ["undo"]
    db.session.remove()
    assert _count() == 1


def test_a_failing_after_commit_operation_does_not_undo_the_action(ctx):
    def boom() -> None:
        raise OSError("mail server down")

    with unit_of_work() as uow:
        uow.add(Organisation(name="Archives du Val-de-Marne"))
        uow.after_commit(boom)
    db.session.remove()
    assert _count() == 1


def test_units_of_work_do_not_nest(ctx):
    with unit_of_work(), pytest.raises(UnitOfWorkError), unit_of_work():
        pass


def test_a_committed_unit_of_work_refuses_more_changes(ctx):
    with unit_of_work() as uow:
        pass
    with pytest.raises(UnitOfWorkError):
        uow.add(Organisation(name="Trop tard"))
