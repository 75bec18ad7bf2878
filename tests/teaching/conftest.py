"""A school world (from the moderation tests) with two published archive documents and a
published teaching dossier holding them, all made through the services."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.conftest import PASSWORD, in_action, story_metadata, submit_story_now
from tests.moderation.conftest import new_story, user, world  # noqa: F401 - shared fixtures


@pytest.fixture
def archive(app, world, publish):  # noqa: F811 - the imported fixture
    """Two published documents and a published dossier; ids in a namespace."""
    from webapp.extensions import db
    from webapp.models import User
    from webapp.services import dossiers

    with app.app_context():
        archivist = db.session.get(User, world.archivist)
        ids = []
        for title, period in (("Lettre au préfet", "1962"), ("Photographie du bidonville", "1965")):
            story = submit_story_now(
                story_metadata(
                    title=title,
                    period=period,
                    places=["Champigny-sur-Marne"],
                    kind="document",
                    source={"institution": "Archives du Val-de-Marne", "reference": "2 W 145"},
                ),
                [],
                submitter=archivist,
            )
            ids.append(story.id)
    for story_id in ids:
        publish(story_id)
    with app.app_context():
        archivist = db.session.get(User, world.archivist)
        dossier = in_action(
            dossiers.save_dossier,
            dossiers.DossierFields(
                title="Le bidonville de Champigny, 1956–1971",
                introduction="Des **documents** sur le bidonville.",
                teacher_context="Le contexte historique.",
                guidance="À partir de 12 ans.",
                level="cycle 4",
                questions="Qui a écrit la lettre ?\nQue montre la photographie ?",
                published=True,
            ),
            archivist,
        )
        for story_id in ids:
            in_action(dossiers.add_document, dossier.id, story_id, archivist)
        return SimpleNamespace(documents=ids, dossier_id=dossier.id, dossier_slug=dossier.slug)


@pytest.fixture
def login(app):
    """A test client logged in by e-mail (staff, teachers) or with a student's class code."""

    def by_email(email: str):
        client = app.test_client()
        response = client.post("/login", data={"email": email, "password": PASSWORD})
        assert response.status_code in (302, 303), response.status_code
        return client

    return by_email


@pytest.fixture
def student_client(app, world):  # noqa: F811 - the imported fixture
    """Amina (class 4e B), logged in with her class code and access code."""
    client = app.test_client()
    response = client.post(
        "/class-login",
        data={"code": world.class_code, "pseudonym": "Amina", "access_code": world.student_code},
    )
    assert response.status_code == 303
    return client
