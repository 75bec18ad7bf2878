"""Every image has alternative text: required on the web form, editable by archivists."""

from __future__ import annotations

import io

from tests.conftest import make_jpeg
from tests.public.htmlcheck import check_html


def _form(**overrides):
    form = {
        "title": "Les jardins ouvriers de Bobigny",
        "body": "Mon père cultivait des piments dans un jardin ouvrier, près du canal.",
        "language": "fr",
        "licence": "CC-BY-4.0",
        "consent": "yes",
    }
    form.update(overrides)
    return form


def test_web_form_refuses_an_image_without_a_description_and_names_it(app, client):
    from webapp.extensions import db
    from webapp.models import Story

    data = _form(alt_texts="Mon père devant les piments\n")
    data["images"] = [
        (io.BytesIO(make_jpeg(400, 300)), "jardin.jpg"),
        (io.BytesIO(make_jpeg(400, 300)), "canal.jpg"),
    ]
    response = client.post("/submit", data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "canal.jpg" in response.text and "jardin.jpg" not in response.text
    assert "piments dans un jardin ouvrier" in response.text  # what was typed is kept
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Story)) == 0


def test_web_form_without_images_needs_no_description(client):
    response = client.post("/submit", data=_form(), content_type="multipart/form-data")
    assert response.status_code == 303


def test_description_check_wants_one_non_blank_line_per_image():
    """The web form's own check (the API contract keeps alt_texts optional, issue 3)."""
    from webapp.blueprints.submit import check_descriptions
    from webapp.errors import ValidationFailed
    from webapp.services.submissions import IncomingImage

    image = IncomingImage(filename="a.jpg", stream=io.BytesIO(b""))
    check_descriptions([image], {"alt_texts": "Une rue"})
    try:
        check_descriptions([image, image], {"alt_texts": "Une rue\n  "})
    except ValidationFailed as exc:
        assert [e.field for e in exc.errors] == ["alt_texts"]
    else:
        raise AssertionError("a second image without description was accepted")


def test_archivist_edits_image_descriptions_shown_on_the_public_page(
    client, app, make_story, login
):
    from webapp.extensions import db
    from webapp.models import Story

    story_id = make_story("Le marché", media=2)
    with app.app_context():
        first, second = sorted(db.session.get(Story, story_id).media, key=lambda m: m.position)
        first_id, second_id = first.id, second.id
    login("archivist")
    page = client.get(f"/curation/stories/{story_id}/descriptions")
    assert page.status_code == 200 and check_html(page.text) == []
    response = client.post(
        f"/curation/stories/{story_id}/descriptions",
        data={f"alt-{first_id}": "  Étal d'épices,\n cumin et safran ", f"alt-{second_id}": ""},
    )
    assert response.status_code == 302
    with app.app_context():
        media = {m.id: m.alt_text for m in db.session.get(Story, story_id).media}
    assert media == {first_id: "Étal d'épices, cumin et safran", second_id: ""}
    public = client.get(f"/stories/{story_id}", follow_redirects=True).text
    assert 'alt="Étal d&#39;épices, cumin et safran"' in public
    assert "(manquante)" in client.get(f"/curation/stories/{story_id}/descriptions").text


def test_only_archivists_edit_descriptions(client, make_story, login):
    story_id = make_story("Le marché", media=1)
    login("contributor")
    assert client.get(f"/curation/stories/{story_id}/descriptions").status_code in (403, 404)
