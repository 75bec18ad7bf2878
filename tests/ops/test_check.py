"""``passages check``: originals intact, derivatives present, no orphans, index in step.

Each test breaks the archive the way storage failures and crashes do (a flipped original, a lost
derivative, an object nobody refers to) and checks what an operator sees: the exit status, each
item named, what ``--repair`` does, and the stored run on the admins' page.
"""

from __future__ import annotations

import os
import time

import pytest

from tests.conftest import PASSWORD
from tests.ops.conftest import add_story, derive_all

pytestmark = pytest.mark.slow  # each test runs the real command in its own process


def _media(app, story_id: int) -> list:
    from webapp.extensions import db
    from webapp.models import MediaAsset

    with app.app_context():
        rows = db.session.scalars(
            db.select(MediaAsset).where(MediaAsset.story_id == story_id).order_by(MediaAsset.id)
        ).all()
        db.session.expunge_all()
        return rows


def _age(app, key: str, hours: float) -> None:
    """Make an object look ``hours`` old (the local store keeps ages as file times)."""
    path = app.extensions["passages.settings"].data_dir / "objects" / "data"
    *folders, name = key.split("/")
    file = path.joinpath(*(f + "@" for f in folders), name)
    then = time.time() - hours * 3600
    os.utime(file, (then, then))


def test_a_consistent_archive_passes_with_fixity(app, contributor_token, cli) -> None:
    add_story(app, contributor_token, 1, 2)
    derive_all(app)

    result = cli("check", "--fixity")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "everything is consistent" in result.stdout
    assert "originals_hashed 2" in result.stdout


def test_a_changed_original_is_named_and_the_exit_is_non_zero(app, contributor_token, cli) -> None:
    story_id = add_story(app, contributor_token, 3)
    derive_all(app)
    (media,) = _media(app, story_id)
    with app.app_context():
        from webapp.services import backends

        store = backends.object_store()
        damaged = bytearray(store.get(media.original_key))
        damaged[len(damaged) // 2] ^= 0xFF
        store.put(media.original_key, bytes(damaged), "image/jpeg")

    without_fixity = cli("check")
    result = cli("check", "--fixity", "--repair")

    assert without_fixity.returncode == 0  # sizes and presence are fine; only hashing sees it
    assert result.returncode == 1
    assert f"original_corrupt     media {media.id} (story {story_id})" in result.stdout
    assert "NOT repaired" in result.stdout


def test_a_lost_derivative_is_found_and_re_derived_through_the_outbox(
    app, contributor_token, cli
) -> None:
    story_id = add_story(app, contributor_token, 4)
    derive_all(app)
    (media,) = _media(app, story_id)
    lost = media.derivatives["thumb"]["key"]
    with app.app_context():
        from webapp.services import backends

        backends.object_store().delete(lost)

    found = cli("check")
    repaired = cli("check", "--repair")

    assert found.returncode == 1
    assert "derivative_missing" in found.stdout and lost in found.stdout
    assert repaired.returncode == 0, repaired.stdout
    with app.app_context():
        from webapp.extensions import db
        from webapp.models import OutboxEvent

        event = db.session.scalars(
            db.select(OutboxEvent).where(OutboxEvent.event_type == "media.rederive_requested")
        ).one()
        assert event.payload == {"story_id": story_id, "media_ids": [media.id]}
    from workers.context import use_app
    from workers.images import derive_media

    use_app(app)
    derive_media(media.id, True)  # what the relayed job does
    assert cli("check").returncode == 0


def test_old_orphans_are_named_and_removed_by_repair_but_never_a_used_original(
    app, contributor_token, cli
) -> None:
    story_id = add_story(app, contributor_token, 5)
    derive_all(app)
    (media,) = _media(app, story_id)
    orphan = "originals/sha256/ee/" + "e" * 64
    young = "originals/sha256/dd/" + "d" * 64
    with app.app_context():
        from webapp.services import backends

        store = backends.object_store()
        store.put(orphan, b"left by a killed request", "image/jpeg")
        store.put(young, b"a submission in flight", "image/jpeg")
    _age(app, orphan, 48)
    _age(app, media.original_key, 48)  # old but used: must stay

    found = cli("check")
    repaired = cli("check", "--repair")

    assert found.returncode == 1
    assert f"orphan_object        {orphan}" in found.stdout
    assert young not in found.stdout and media.original_key not in found.stdout
    assert repaired.returncode == 0, repaired.stdout
    with app.app_context():
        assert not store.exists(orphan)
        assert store.exists(young)
        assert store.exists(media.original_key)
    assert cli("check").returncode == 0


def test_check_runs_are_stored_and_shown_to_admins_only(
    app, contributor_token, make_user, cli
) -> None:
    from tests.conftest import create_user_now

    add_story(app, contributor_token, 6)
    orphan = "derivatives/999/thumb.webp"
    with app.app_context():
        from webapp.services import backends

        backends.object_store().put(orphan, b"derivative of an erased image", "image/webp")
        create_user_now("admin@example.org", "admin", PASSWORD)
        create_user_now("archivist@example.org", "archivist", PASSWORD)
    _age(app, orphan, 48)
    assert cli("check").returncode == 1

    admin = app.test_client()
    admin.post("/login", data={"email": "admin@example.org", "password": PASSWORD})
    archivist = app.test_client()
    archivist.post("/login", data={"email": "archivist@example.org", "password": PASSWORD})
    page = admin.get("/admin/checks/")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert orphan in html and "orphan_object" in html
    assert archivist.get("/admin/checks/").status_code == 403
    assert app.test_client().get("/admin/checks/").status_code in (302, 401, 403)
