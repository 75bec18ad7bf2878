"""Database/index drift: ``run_check`` names stories missing from (or stale in) the index, and
``repair`` sends them to be re-indexed through the outbox."""

from __future__ import annotations

from tests.ops.conftest import add_story


def _events(app, event_type: str) -> list[dict]:
    from webapp.extensions import db
    from webapp.models import OutboxEvent

    with app.app_context():
        return [
            e.payload
            for e in db.session.scalars(
                db.select(OutboxEvent).where(OutboxEvent.event_type == event_type)
            )
        ]


def test_a_story_missing_from_the_index_is_named_and_reindexed_by_repair(
    app, contributor_token
) -> None:
    from webapp.operations.checks import run_check
    from workers.context import use_app
    from workers.search import index_story

    story_id = add_story(app, contributor_token, 61)  # no worker ran: not in the index yet

    with app.app_context():
        found = run_check()
        repaired = run_check(repair=True)
    [problem] = [p for p in found.problems if p.kind == "index_missing"]

    assert problem.subject == f"story {story_id}" and not problem.repaired
    assert any(p.kind == "index_missing" and p.repaired for p in repaired.problems)
    assert {"story_id": story_id, "reason": "check: missing from the index"} in _events(
        app, "story.reindex_requested"
    )
    use_app(app)
    index_story(story_id)  # what the relayed job does
    with app.app_context():
        assert [p for p in run_check().problems if p.kind.startswith("index")] == []
