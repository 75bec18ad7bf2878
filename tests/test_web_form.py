"""The submission form as a person without JavaScript uses it: errors keep their text, a good
submission leads to a private status page, and forms are protected against cross-site posts."""

from __future__ import annotations

import io
import re

from tests.conftest import build_app, make_jpeg


def _form(**overrides):
    form = {
        "title": "Les jardins ouvriers de Bobigny",
        "body": "Mon père cultivait des piments dans un jardin ouvrier, près du canal.",
        "language": "fr",
        "places": "Bobigny, Tlemcen",
        "period": "1970s",
        "themes": "jardin, travail",
        "licence": "CC-BY-4.0",
        "consent": "yes",
        "alt_texts": "Mon père devant les piments",
    }
    form.update(overrides)
    return form


def test_form_page_is_a_plain_form_that_a_script_only_enhances(client):
    html = client.get("/submit").get_data(as_text=True)
    assert 'method="post" enctype="multipart/form-data"' in html
    assert 'name="images"' in html and '<button type="submit">' in html
    # The one script is the upload progress, loaded deferred from our own origin; the progress
    # panel stays hidden unless it runs, so the form without JavaScript is unchanged.
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/submit-upload.js" defer>']
    assert 'class="upload-panel" id="upload-panel" hidden' in html


def test_form_page_carries_the_server_limits_its_script_checks(tmp_path):
    app = build_app(tmp_path / "data", MAX_UPLOAD_MB="3", MAX_IMAGES="4")
    try:
        html = app.test_client().get("/submit").get_data(as_text=True)
    finally:
        from tests.conftest import _dispose

        _dispose(app)
    assert 'data-max-files="4"' in html and f'data-max-bytes="{3 * 1048576}"' in html
    assert "Au plus 4 fichiers de 3 Mo chacun." in html
    accepted = re.search(r'data-accept="([^"]+)"', html).group(1).split(",")
    assert {"image/jpeg", "image/png", "image/webp", "image/tiff"} <= set(accepted)
    assert "application/pdf" not in accepted


def test_good_submission_leads_to_a_status_page_showing_each_image(client):
    data = _form()
    data["images"] = [(io.BytesIO(make_jpeg(800, 600)), "jardin.jpg")]
    response = client.post("/submit", data=data, content_type="multipart/form-data")
    assert response.status_code == 303
    status = client.get(response.headers["Location"])
    html = status.get_data(as_text=True)
    assert status.status_code == 200
    assert "Les jardins ouvriers de Bobigny" in html
    assert "jardin.jpg" in html and "800×600" in html


def test_form_error_names_the_problem_and_keeps_what_was_typed(app, client):
    from webapp.extensions import db
    from webapp.models import Story

    data = _form(consent="", period="au printemps")
    response = client.post("/submit", data=data, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "piments dans un jardin ouvrier" in html  # the story text is not lost
    assert "consent" in html.lower() or "1962" in html
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Story)) == 0


def test_form_refuses_a_non_image_with_the_file_name(app, client):
    data = _form()
    data["images"] = [(io.BytesIO(b"%PDF-1.7 not a photo"), "lettre.pdf")]
    response = client.post("/submit", data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "lettre.pdf" in response.get_data(as_text=True)


def test_forms_reject_posts_without_the_csrf_token(tmp_path):
    app = build_app(tmp_path / "data", WTF_CSRF_ENABLED=True)
    response = app.test_client().post("/submit", data=_form(), content_type="multipart/form-data")
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


def test_status_link_with_a_wrong_token_shows_nothing(client):
    response = client.get("/status/not-the-right-token")
    assert response.status_code == 404
