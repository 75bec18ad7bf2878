"""Place pages come from ``story_places`` (issue 11.7): one indexed query, kept in step with the
stories' places by the flush hook, filled for existing stories by the migration."""

from __future__ import annotations


def _set_places(app, story_id: int, names: list[str]) -> None:
    from webapp.extensions import db
    from webapp.models import Story

    with app.app_context():
        story = db.session.get(Story, story_id)
        story.places = names
        db.session.commit()


def test_a_place_page_follows_edits_of_a_storys_places(app, client, make_story) -> None:
    story_id = make_story("Le marché", places=["Vitry sur Seine"])
    make_story("Brouillon", places=["Vitry-sur-Seine"], status="submitted")
    vitry = client.get("/places/vitry-sur-seine").text
    assert "Le marché" in vitry and "Brouillon" not in vitry
    assert "Le marché" not in client.get("/places/ivry-sur-seine").text

    _set_places(app, story_id, ["Ivry-sur-Seine", "ivry sur seine"])
    assert "Le marché" not in client.get("/places/vitry-sur-seine").text
    assert "Le marché" in client.get("/places/ivry-sur-seine").text

    from webapp.extensions import db
    from webapp.models import StoryPlace
    from webapp.places import public_story_counts

    with app.app_context():
        assert public_story_counts() == {"ivry sur seine": 1}
        rows = db.session.scalars(db.select(StoryPlace).where(StoryPlace.story_id == story_id))
        assert [r.place_key for r in rows] == ["ivry sur seine"]  # two spellings, one key


def test_an_erased_story_leaves_no_place_link(app, make_story) -> None:
    from webapp.extensions import db
    from webapp.models import Story, StoryPlace

    story_id = make_story("Le marché", places=["Vitry-sur-Seine", "Oran"])
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(StoryPlace)) == 2
        db.session.delete(db.session.get(Story, story_id))
        db.session.commit()
        assert db.session.scalar(db.select(db.func.count()).select_from(StoryPlace)) == 0


def test_the_migration_fills_story_places_for_stories_already_there(app) -> None:
    from flask_migrate import downgrade, upgrade

    from webapp.extensions import db

    with app.app_context():
        directory = str(app.extensions["migrate"].directory)
        downgrade(directory=directory, revision="0007_uow_event_story_id")
        db.session.execute(
            db.text(
                "INSERT INTO stories (title, body, language, places, themes, licence, consent,"
                " extra, status, status_token, guardian_consent, persons_identifiable,"
                " created_at, updated_at)"
                " VALUES ('Ancienne', '', 'fr', :places, '[]', 'CC-BY-4.0', '{}', '{}',"
                " 'published', 'tok', 'not_required', 0, '2020-01-01', '2020-01-01')"
            ),
            {"places": '["Vitry sur Seine", "St-Denis", ""]'},
        )
        db.session.commit()
        upgrade(directory=directory, revision="heads")
        keys = db.session.scalars(db.text("SELECT place_key FROM story_places ORDER BY 1")).all()
        assert keys == ["saint denis", "vitry sur seine"]
