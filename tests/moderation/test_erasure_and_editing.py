"""Takedown requests, GDPR erasure and recorded metadata edits."""

from __future__ import annotations

import io

import pytest

from tests.conftest import in_action, make_jpeg, story_metadata, submit_story_now
from webapp.errors import Forbidden


def test_erasure_removes_originals_derivatives_index_and_keeps_only_that_it_happened(
    app, world, user, publish
):
    from webapp.extensions import db
    from webapp.models import AuditEntry, MediaAsset, Story
    from webapp.search import SearchRequest
    from webapp.services import backends, erasure, review, submissions
    from workers.context import use_app
    from workers.images import derive_media
    from workers.search import index_story

    with app.app_context():
        story = submit_story_now(
            story_metadata(body="Le secret de famille de Vitry"),
            [submissions.IncomingImage("a.jpg", io.BytesIO(make_jpeg(seed=7)))],
            submitter=user(world.member),
        )
        story_id, media_id = story.id, story.media[0].id
    use_app(app)
    derive_media(media_id)
    with app.app_context():
        in_action(
            review.review,
            story_id,
            "approve",
            "private note about the family",
            user(world.archivist),
        )
    index_story(story_id)
    with app.app_context():
        keys = [d["key"] for d in db.session.get(MediaAsset, media_id).derivatives.values()]
        keys.append(db.session.get(MediaAsset, media_id).original_key)
        store = backends.object_store()
        assert all(store.exists(k) for k in keys)
        assert backends.search_index().search(SearchRequest(q="secret")).total == 1
        in_action(
            erasure.request_takedown, story_id, "my family asks", requester=None, erasure=True
        )
        counts = in_action(erasure.erase_story, story_id, user(world.archivist))
        assert counts == {"images": 1, "originals": 1, "derivatives": len(keys) - 1}
        assert db.session.get(Story, story_id) is None
        assert not any(store.exists(k) for k in keys)
        entries = db.session.scalars(
            db.select(AuditEntry).where(
                AuditEntry.subject_id == story_id, AuditEntry.subject_type == "story"
            )
        ).all()
        assert "story.erased" in [e.action for e in entries]
        assert all(e.note is None for e in entries)
        assert "family" not in repr([e.details for e in entries])
    assert index_story(story_id) == "removed"
    with app.app_context():
        # A fresh reader on the index folder: the long-lived one's cache is the search layer's.
        from webapp.search import SearchIndex

        fresh = SearchIndex(backends.settings().index_dir)
        assert fresh.search(SearchRequest(q="secret")).total == 0
        fresh.close()


def test_only_archivists_erase(app, world, user, new_story):
    from webapp.services import erasure

    story_id = new_story(world.student)
    with app.app_context():
        for who in (world.teacher, world.student):
            with pytest.raises(Forbidden):
                in_action(erasure.erase_story, story_id, user(who))


def test_takedown_request_needs_a_reason_and_is_queued(app, world, new_story):
    from webapp.errors import BadRequest
    from webapp.services import erasure

    story_id = new_story(world.member)
    with app.app_context():
        with pytest.raises(BadRequest):
            in_action(erasure.request_takedown, story_id, "  ", requester=None)
        in_action(
            erasure.request_takedown, story_id, "I am in the photo", requester=None, name="Karim"
        )
        assert [r.story_id for r in erasure.open_requests()] == [story_id]


def test_archivist_metadata_edit_is_recorded_with_old_and_new_values(app, world, user, new_story):
    from webapp.extensions import db
    from webapp.models import AuditEntry, OutboxEvent, Story
    from webapp.services import editing

    story_id = new_story(world.member)
    with app.app_context():
        fields = in_action(
            editing.edit_metadata,
            story_id,
            {"title": "Le marché d'Ivry", "places": "Ivry-sur-Seine, Oran", "period": "1960s"},
            user(world.archivist),
        )
        assert fields == ["period", "places", "title"]
        story = db.session.get(Story, story_id)
        assert story.places == ["Ivry-sur-Seine", "Oran"] and story.period_start == 1960
        entry = db.session.scalars(
            db.select(AuditEntry).where(AuditEntry.action == "story.metadata_edited")
        ).one()
        assert entry.details["before"]["title"] == "Le marché de Vitry"
        assert entry.details["after"]["title"] == "Le marché d'Ivry"
        events = db.session.scalars(db.select(OutboxEvent.event_type)).all()
        assert "story.metadata_edited" in events


def test_author_edits_text_only_when_it_is_back_with_them(app, world, user, new_story):
    from webapp.services import editing, review

    story_id = new_story(world.student)
    with app.app_context():
        with pytest.raises(Forbidden):
            in_action(editing.edit_metadata, story_id, {"body": "new"}, user(world.student))
        in_action(review.apply, story_id, "return", user(world.teacher), "longer please")
        assert in_action(
            editing.edit_metadata, story_id, {"body": "longer"}, user(world.student)
        ) == ["body"]
        with pytest.raises(Forbidden):
            in_action(editing.edit_metadata, story_id, {"licence": "CC0-1.0"}, user(world.student))


def test_image_licence_and_credit_are_set_by_archivists_only(app, world, user):
    from webapp.services import editing, submissions

    with app.app_context():
        story = submit_story_now(
            story_metadata(),
            [submissions.IncomingImage("a.jpg", io.BytesIO(make_jpeg(seed=3)))],
            submitter=user(world.member),
        )
        media_id = story.media[0].id
        with pytest.raises(Forbidden):
            in_action(editing.edit_media_rights, media_id, "CC0-1.0", "x", user(world.teacher))
        media = in_action(
            editing.edit_media_rights,
            media_id,
            "CC-BY-NC-4.0",
            " Studio  Rex ",
            user(world.archivist),
        )
        assert (media.licence, media.credit) == ("CC-BY-NC-4.0", "Studio Rex")


def test_erasure_blanks_moderators_notes_in_events(app, world, user, new_story):
    from webapp.extensions import db
    from webapp.models import OutboxEvent
    from webapp.services import erasure, review

    story_id = new_story(world.member)
    with app.app_context():
        in_action(review.review, story_id, "reject", "names the neighbours", user(world.archivist))
        in_action(erasure.erase_story, story_id, user(world.archivist))
        payloads = db.session.scalars(db.select(OutboxEvent.payload)).all()
        assert "neighbours" not in repr(payloads)
