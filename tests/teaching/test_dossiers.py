"""Teaching dossiers: archivists make them, the public and teachers read them and print the
teacher's sheet; nobody else may change them, and nothing unpublished shows."""

from __future__ import annotations

import pytest

from tests.conftest import in_action


def test_archivist_builds_a_dossier_through_the_screens_and_the_public_reads_it(
    app, world, archive, login, publish, new_story
):
    archivist = login("archivist@example.org")
    created = archivist.post(
        "/curation/dossiers/new",
        data={
            "title": "Les tirailleurs sénégalais",
            "level": "3e, 14–15 ans",
            "introduction": "Des lettres et des photographies.",
            "teacher_context": "Recrutés dans les colonies d'Afrique de l'Ouest.",
            "guidance": "Prévoir un temps d'échange.",
            "questions": "Qui écrit ?\n\n  Pour qui ?  ",
            "published": "yes",
        },
    )
    assert created.status_code == 303
    edit_url = created.headers["Location"]
    first, second = archive.documents
    for story_id in (first, f"#{second}", first):  # a second add of the same changes nothing
        assert (
            archivist.post(f"{edit_url}/documents", data={"story_id": story_id}).status_code == 303
        )
    page = archivist.get(edit_url).get_data(as_text=True)
    assert page.count('<tr id="item-') == 2
    # The second document goes first.
    from webapp.extensions import db
    from webapp.models import Dossier

    with app.app_context():
        dossier = db.session.scalar(
            db.select(Dossier).where(Dossier.slug == "les-tirailleurs-senegalais")
        )
        second_item = next(i.id for i in dossier.items if i.story_id == second)
    archivist.post(f"{edit_url}/documents/{second_item}/move", data={"direction": "up"})

    public = app.test_client()
    assert "Les tirailleurs sénégalais" in public.get("/dossiers/").get_data(as_text=True)
    shown = public.get("/dossiers/les-tirailleurs-senegalais").get_data(as_text=True)
    assert shown.index("Photographie du bidonville") < shown.index("Lettre au préfet")
    assert "3e, 14–15 ans" in shown and "Recrutés dans les colonies" in shown
    assert "<li>Qui écrit ?</li>" in shown and "<li>Pour qui ?</li>" in shown

    sheet = public.get("/dossiers/les-tirailleurs-senegalais/sheet").get_data(as_text=True)
    assert "teaching.css" in sheet and "Prévoir un temps" in sheet
    assert "http://passages.test/stories/" in sheet  # the documents' addresses, printed
    frame = sheet.split('<ol class="frame">', 1)[1].split("</ol>", 1)[0]
    assert frame.count("<li>") == 8  # the eight steps of the guided analysis


def test_a_draft_dossier_and_an_unpublished_document_stay_out_of_public_view(
    app, world, archive, login, new_story
):
    archivist = login("archivist@example.org")
    archivist.post(f"/curation/dossiers/{archive.dossier_id}", data={"title": "Brouillon"})
    assert app.test_client().get("/dossiers/brouillon").status_code == 404
    assert "Brouillon" not in app.test_client().get("/dossiers/").get_data(as_text=True)

    a_story = new_story(world.member, title="Une histoire")
    waiting = new_story(
        world.archivist,
        title="Pas encore publié",
        kind="document",
        source={"institution": "Archives du Val-de-Marne", "reference": "3 W 1"},
    )
    for story_id, words in ((a_story, "pas un document d’archives"),
                            (waiting, "seuls des documents publiés")):  # fmt: skip
        refused = archivist.post(
            f"/curation/dossiers/{archive.dossier_id}/documents", data={"story_id": str(story_id)}
        )
        assert refused.status_code == 303
        assert words in archivist.get(refused.headers["Location"]).get_data(as_text=True)


def test_a_withdrawn_document_leaves_the_dossier_page(app, world, archive, login):
    from webapp.extensions import db
    from webapp.models import User
    from webapp.services import review

    with app.app_context():
        archivist = db.session.get(User, world.archivist)
        in_action(review.withdraw, archive.documents[0], "droits", archivist)
    page = app.test_client().get(f"/dossiers/{archive.dossier_slug}").get_data(as_text=True)
    assert "Lettre au préfet" not in page and "Photographie du bidonville" in page


@pytest.mark.parametrize("email", ["teacher@example.org", "member@example.org"])
def test_only_archivists_create_or_change_dossiers(app, world, archive, login, email):
    other = login(email)
    assert other.get("/curation/dossiers/").status_code == 403
    assert other.post("/curation/dossiers/new", data={"title": "X"}).status_code == 403
    changed = other.post(f"/curation/dossiers/{archive.dossier_id}", data={"title": "Volé"})
    assert changed.status_code == 403
    assert app.test_client().get(f"/dossiers/{archive.dossier_slug}").status_code == 200
    assert app.test_client().post("/curation/dossiers/new", data={"title": "X"}).status_code in (
        302,
        401,
    )


def test_dossier_service_refuses_non_archivists_and_bad_fields(app, world, archive, user):
    from webapp.errors import BadRequest, Forbidden
    from webapp.services import dossiers

    with app.app_context():
        teacher, archivist = user(world.teacher), user(world.archivist)
        with pytest.raises(Forbidden):
            in_action(dossiers.save_dossier, dossiers.DossierFields(title="T"), teacher)
        with pytest.raises(BadRequest, match="title"):
            in_action(dossiers.save_dossier, dossiers.DossierFields(title="  "), archivist)
        with pytest.raises(BadRequest, match="short name"):
            in_action(
                dossiers.save_dossier,
                dossiers.DossierFields(title="Autre", slug=archive.dossier_slug),
                archivist,
            )
        with pytest.raises(BadRequest, match="no document number"):
            in_action(dossiers.add_document, archive.dossier_id, 99999, archivist)
