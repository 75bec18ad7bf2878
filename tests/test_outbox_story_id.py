"""Outbox events carry their story's id in an indexed column; erasure finds them by it.

Erasure used to read every story event in Python to find the ones about the erased story; now
``outbox.emit`` fills ``outbox_events.story_id`` and the migration fills it for existing rows.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.conftest import in_action


def test_emitted_events_know_their_story_and_other_events_do_not(ctx):
    from webapp.extensions import db
    from webapp.services import outbox
    from webapp.unit_of_work import unit_of_work

    with unit_of_work():
        about_story = outbox.emit("story.recalled", {"story_id": 41, "actor_id": None})
        about_collection = outbox.emit(
            "collection.changed", {"collection_id": 3, "story_ids": [41, 42]}
        )
    db.session.expire_all()
    assert about_story.story_id == 41
    assert about_collection.story_id is None


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_env(request, tmp_path) -> dict[str, str]:
    """Settings for a fresh database of each kind the migrations must work on."""
    if request.param == "sqlite":
        return {}
    return {"DATABASE_URL": request.getfixturevalue("postgres_url")}


def test_the_migration_fills_story_id_from_existing_payloads(tmp_path, database_env):
    from flask_migrate import downgrade, upgrade

    from tests.conftest import build_app
    from webapp.extensions import db

    app = build_app(tmp_path / "data", **database_env)
    directory = str(app.extensions["migrate"].directory)

    with app.app_context():
        downgrade(directory=directory, revision="0006_permanent_ids")
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO outbox_events (event_type, payload, attempts, created_at) VALUES"
                    " ('story.withdrawn', :withdrawn, 0, :at),"
                    " ('collection.changed', :changed, 0, :at)"
                ),
                {
                    "withdrawn": '{"story_id": 7, "note": "n"}',
                    "changed": '{"collection_id": 1, "story_ids": [7]}',
                    "at": "2026-12-01 10:00:00",
                },
            )
        upgrade(directory=directory, revision="heads")
        with db.engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT event_type, story_id FROM outbox_events ORDER BY id")
            ).all()
    assert rows == [("story.withdrawn", 7), ("collection.changed", None)]
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_erasure_blanks_the_notes_of_the_story_s_events_and_only_those(
    app, make_user, new_story_with_note
):
    from webapp.extensions import db
    from webapp.models import OutboxEvent, User
    from webapp.services import erasure

    erased, kept = new_story_with_note("à effacer"), new_story_with_note("à garder")
    archivist_id = make_user("archivist")
    with app.app_context():
        in_action(erasure.erase_story, erased, db.session.get(User, archivist_id))
        notes = {
            (e.story_id, e.payload.get("note"))
            for e in db.session.scalars(
                db.select(OutboxEvent).where(OutboxEvent.event_type == "story.withdrawn")
            )
        }
    assert notes == {(erased, None), (kept, "à garder")}


@pytest.fixture
def new_story_with_note(app, make_user):
    """A story withdrawn by an archivist with a note (the note lands in the event's payload)."""
    from tests.conftest import story_metadata, submit_story_now
    from webapp.extensions import db
    from webapp.models import User
    from webapp.services import review

    archivist_id = make_user("archivist")
    contributor_id = make_user("contributor")

    def make(note: str) -> int:
        with app.app_context():
            story = submit_story_now(
                story_metadata(), [], submitter=db.session.get(User, contributor_id)
            )
            in_action(review.withdraw, story.id, note, db.session.get(User, archivist_id))
            return story.id

    return make
