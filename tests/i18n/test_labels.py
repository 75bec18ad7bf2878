"""Status, state and kind names come from one translated table, and the staff screens speak
French: the review page's buttons, status and consent, flashes and the indicators' title."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.mofile import read_mo

from tests.conftest import PASSWORD

REPO = Path(__file__).resolve().parents[2]


def _french() -> dict[tuple[str | None, str], str]:
    with (REPO / "webapp/translations/fr/LC_MESSAGES/messages.mo").open("rb") as f:
        return {
            (m.context, m.id): m.string
            for m in read_mo(f)
            if m.id and isinstance(m.id, str) and m.string
        }


def _text(response) -> str:
    """The page with French typography's non-breaking spaces read as spaces."""
    return response.text.replace("\u00a0", " ")


def _login(app, email: str):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code in (302, 303)
    return client


def test_every_stored_value_has_a_label_translated_into_french():
    from webapp import labels
    from webapp.models import GuardianConsent, MediaState, OrganisationKind, Role, StoryStatus
    from webapp.services import review

    french = _french()
    expected = {
        "status": StoryStatus,
        "consent": GuardianConsent,
        "media": MediaState,
        "kind": OrganisationKind,
        "role": Role,
    }
    for table, values in expected.items():
        assert set(labels.TABLES[table]) == {v.value for v in values}, table
    assert set(labels.ACTION) == set(review.WHO)
    untranslated = [
        f"{name}: {value}"
        for name, table in labels.TABLES.items()
        for value, words in table.items()
        if (tuple(words._args) if len(words._args) == 2 else (None, *words._args)) not in french
    ]
    assert untranslated == []


def test_label_names_a_value_in_the_interface_language_and_keeps_an_unknown_one(app):
    from webapp.labels import label

    with app.test_request_context("/"):
        assert label("in_review", "status") == "en relecture"
        assert label("not_required", "consent") == "non requis"
        assert label("some_future_state", "status") == "some_future_state"
        assert label(None, "status") == ""
    with app.test_request_context("/", headers={"Cookie": "lang=en"}):
        assert label("in_review", "status") == "in review"
        assert label("return", "action") == "Return to the student with comments"


def test_teacher_review_page_is_french(app, world, new_story):
    story_id = new_story(world.student)
    page = _login(app, "teacher@example.org").get(f"/moderation/stories/{story_id}").text
    for french in ("Renvoyer à l’élève avec des commentaires", "Transmettre aux archives",
                   "envoyée", "attendu"):  # fmt: skip
        assert french in page
    for english in ("return to the student", "forward to the archive", "submitted",
                    "not required", ">pending<"):  # fmt: skip
        assert english not in page.lower()


def test_archivist_review_page_names_status_consent_and_moves_in_french(app, world, new_story):
    story_id = new_story(world.member)
    client = _login(app, "archivist@example.org")
    page = client.get(f"/moderation/stories/{story_id}").text
    assert "non requis" in page and ">envoyée<" in page
    assert ">Refuser<" in page and ">Retirer<" in page
    assert "not required" not in page and ">reject<" not in page and ">withdraw<" not in page
    moved = client.post(
        f"/moderation/stories/{story_id}",
        data={"decision": "start_review"},
        follow_redirects=True,
    )
    moved = _text(moved)
    assert "« Commencer la relecture aux archives » fait." in moved
    assert "relecture aux archives commencée" in moved  # the history, from the same table
    refused = _text(
        client.post(
            f"/moderation/stories/{story_id}", data={"decision": "forward"}, follow_redirects=True
        )
    )
    assert "n’est pas possible pour une histoire au statut « en relecture »" in refused


@pytest.mark.parametrize(
    ("cookie", "flash"),
    [
        (None, "Enregistrée comme brouillon"),
        ("en", "Saved as a draft: find it in “My space”"),
    ],
)
def test_saving_a_draft_flashes_in_the_interface_language(app, world, cookie, flash):
    client = app.test_client()
    if cookie:
        client.set_cookie("lang", cookie, domain="passages.test")
    client.post(
        "/class-login",
        data={"code": world.class_code, "pseudonym": "Amina", "access_code": world.student_code},
    )
    response = client.post(
        "/submit",
        data={
            "title": "Brouillon",
            "body": "Pas fini.",
            "language": "fr",
            "consent": "yes",
            "licence": "CC-BY-4.0",
            "draft": "yes",
        },  # fmt: skip
        follow_redirects=True,
    )
    assert flash in response.text.replace("\u00a0", " ")


def test_indicators_title_is_only_a_title(app, world):
    page = _login(app, "archivist@example.org").get("/indicators/").text
    title = page.split("<title>", 1)[1].split("</title>", 1)[0]
    assert title == "Indicateurs — Passages"


def test_api_errors_follow_accept_language_and_default_to_english(app, world, new_story,
                                                                  api_token):  # fmt: skip
    story_id = new_story(world.member)
    token = api_token(world.archivist)
    headers = {"Authorization": f"Bearer {token}"}
    body = {"action": "publish", "note": ""}
    english = app.test_client().post(
        f"/api/v1/stories/{story_id}/transitions", json=body, headers=headers
    )
    assert english.status_code == 409
    assert (
        "is not possible for a story whose status is “submitted”"
        in english.json["error"]["message"]
    )
    french = app.test_client().post(
        f"/api/v1/stories/{story_id}/transitions",
        json={"action": "publish"},
        headers={**headers, "Accept-Language": "fr-FR,fr;q=0.9"},
    )
    assert "n’est pas possible pour une histoire au statut « envoyée »" in french.json["error"][
        "message"
    ].replace("\u00a0", " ")
