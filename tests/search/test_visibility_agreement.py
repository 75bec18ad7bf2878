"""One visibility rule (issue 11.4): the database and the index agree on what is public.

``Story.is_public`` is the one SQL expression; every public list, page and count goes through
it, and the index's public set — built by the worker from the same rows — must be the same set
of ids after stories move through every status, are edited, withdrawn and erased.
"""

from __future__ import annotations

import pytest

from webapp.models.base import StoryStatus

STATUSES = [s.value for s in StoryStatus]


def test_database_and_index_agree_on_the_public_story_ids(app, make_story) -> None:
    from webapp.extensions import db
    from webapp.models import Story
    from webapp.services import backends, visibility
    from webapp.services.indexing import document_for

    ids = [
        make_story(f"Histoire {n}", status=STATUSES[n % len(STATUSES)])
        for n in range(3 * len(STATUSES))
    ]
    with app.app_context():
        index = backends.search_index()
        # Move some through other statuses and erase one, re-indexing as the worker does.
        for story_id, status in zip(
            ids[:6],
            ["published", "withdrawn", "draft", "published", "rejected", "published"],
            strict=True,
        ):
            story = db.session.get(Story, story_id)
            story.status = status
            db.session.commit()
            index.upsert(document_for(story))
        erased = ids[-1]
        db.session.delete(db.session.get(Story, erased))
        db.session.commit()
        index.purge(erased)

        public = visibility.public_story_ids()
        assert public  # the agreement below is not about two empty sets
        assert public == index.visible_ids(public=True)
        assert len(public) == index.count(public=True)
        # Positive control: the staff view of the index holds the others too.
        assert index.visible_ids(public=False) == set(ids) - {erased}
        # The Python side of the one rule agrees with its SQL side, row by row.
        for story in db.session.scalars(db.select(Story)):
            assert story.is_public == (story.id in public)


@pytest.mark.parametrize("status", [s for s in STATUSES if s != "published"])
def test_no_public_page_lists_a_story_that_is_not_published(client, make_story, status) -> None:
    hidden = make_story(
        "Histoire cachée", status=status, organisation="Mémoires vives", places=["Ivry-sur-Seine"]
    )
    shown = make_story("Histoire publiée", organisation="Mémoires vives", places=["Ivry-sur-Seine"])
    pages = ["/", "/places/ivry-sur-seine", "/places/", "/search?q=histoire"]
    for url in pages:
        html = client.get(url, follow_redirects=True).text
        assert "Histoire cachée" not in html, url
    # Positive controls: the published one is on the lists, its place counted once.
    assert "Histoire publiée" in client.get("/").text
    assert "Histoire publiée" in client.get("/places/ivry-sur-seine").text
    assert hidden != shown


def test_check_index_reports_a_story_the_index_missed(app, make_story) -> None:
    from webapp.cli import check_index_command
    from webapp.extensions import db
    from webapp.models import Story

    story_id = make_story("Histoire publiée")
    runner = app.test_cli_runner()
    ok = runner.invoke(check_index_command)
    assert ok.exit_code == 0 and "1 in the database, 1 in the index" in ok.output
    with app.app_context():  # published in the database, but no index update followed
        db.session.add(
            Story(
                title="Oubliée",
                body="",
                language="fr",
                licence="CC-BY-4.0",
                consent={},
                status="published",
            )
        )
        db.session.commit()
    bad = runner.invoke(check_index_command)
    assert bad.exit_code == 1 and "not searchable although public" in bad.output
    assert str(story_id) not in bad.output.split("public:")[-1]
