"""Anonymous submissions wait in a quarantine, out of the review queue; an archivist lets them
in or discards them, all (or a selection) in one action."""

from __future__ import annotations

from tests.security.conftest import login

FORM = {
    "title": "Le marché",
    "body": "Une histoire.",
    "language": "fr",
    "licence": "CC-BY-4.0",
    "consent": "yes",
}


def _submit(client, title: str) -> str:
    response = client.post("/submit", data={**FORM, "title": title})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return response.headers["Location"]


def test_anonymous_stories_wait_in_quarantine_until_let_in(app, world):
    anonymous = app.test_client()
    for n in range(3):
        _submit(anonymous, f"Anonyme {n}")
    member = app.test_client()
    assert login(member, "member@example.org").status_code == 302
    _submit(member, "Par un membre")
    archivist = app.test_client()
    assert login(archivist, "archivist@example.org").status_code == 302
    queue = archivist.get("/moderation/").get_data(as_text=True)
    assert "Par un membre" in queue and "Anonyme" not in queue
    assert "/moderation/quarantine/" in queue
    waiting = archivist.get("/moderation/quarantine/").get_data(as_text=True)
    assert all(f"Anonyme {n}" in waiting for n in range(3)) and "Par un membre" not in waiting
    done = archivist.post("/moderation/quarantine/", data={"action": "release"})
    assert done.status_code == 303
    queue = archivist.get("/moderation/").get_data(as_text=True)
    assert all(f"Anonyme {n}" in queue for n in range(3))
    assert "Anonyme" not in archivist.get("/moderation/quarantine/").get_data(as_text=True)


def test_discarding_erases_the_selected_stories_only(app, world):
    from webapp.extensions import db
    from webapp.models import Story

    anonymous = app.test_client()
    status_links = [_submit(anonymous, f"Spam {n}") for n in range(3)]
    with app.app_context():
        ids = sorted(db.session.scalars(db.select(Story.id).where(Story.quarantined)).all())
    archivist = app.test_client()
    assert login(archivist, "archivist@example.org").status_code == 302
    archivist.post(
        "/moderation/quarantine/",
        data={"action": "discard", "story_id": [str(ids[0]), str(ids[1])]},
    )
    with app.app_context():
        left = sorted(db.session.scalars(db.select(Story.id)).all())
    assert left == [ids[2]]
    assert anonymous.get(status_links[0]).status_code == 404
    assert anonymous.get(status_links[2]).status_code == 200


def test_only_archivists_reach_the_quarantine(app, world):
    for email in ("teacher@example.org", "member@example.org"):
        client = app.test_client()
        assert login(client, email).status_code == 302
        assert client.get("/moderation/quarantine/").status_code == 403
        assert client.post("/moderation/quarantine/", data={"action": "discard"}).status_code == 403
    assert app.test_client().get("/moderation/quarantine/").status_code in (302, 401)
