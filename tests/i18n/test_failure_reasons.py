"""Why an image failed is said in the reader's language, wherever it is shown.

Workers store a code (``webapp.reasons``); the status page, the review page, their live JSON
and the API put it into words for whoever reads them. Rows written before codes existed hold an
English sentence: they are shown translated too, or as a translated "processing failed".
"""

from __future__ import annotations

import html
import io

import pytest

from tests.conftest import PASSWORD, create_user_now, make_jpeg, story_metadata, submit_story_now

FIXITY_FR = "l’original conservé ne correspond plus à sa somme de contrôle (erreur d’intégrité)"
FIXITY_EN = "the stored original does not match its checksum (fixity error)"


@pytest.fixture
def failed_image(app):
    """A story whose image failed in the worker: its original changed in storage (bit rot)."""
    from webapp.extensions import db
    from webapp.models import MediaAsset
    from webapp.services import backends
    from workers.context import use_app
    from workers.images import derive_media

    with app.app_context():
        user, _ = create_user_now("contributor@example.org", "contributor", PASSWORD)
        image = io.BytesIO(make_jpeg(seed=3))
        story = submit_story_now(story_metadata(), [_incoming("photo.jpg", image)], submitter=user)
        media = story.media[0]
        backends.object_store().put(media.original_key, make_jpeg(seed=4))
        story_id, media_id, token = story.id, media.id, story.status_token
    use_app(app)
    assert derive_media(media_id) == "failed"
    with app.app_context():
        stored = db.session.get(MediaAsset, media_id).failure_reason
    return {"story_id": story_id, "media_id": media_id, "token": token, "stored": stored}


def _incoming(name: str, stream):
    from webapp.services.submissions import IncomingImage

    return IncomingImage(name, stream)


def _archivist(app):
    with app.app_context():
        create_user_now("archivist@example.org", "archivist", PASSWORD)
    client = app.test_client()
    client.post("/login", data={"email": "archivist@example.org", "password": PASSWORD})
    return client


def test_the_worker_stores_a_code_not_a_sentence(failed_image):
    assert failed_image["stored"] == "fixity"


def test_the_french_status_page_and_its_live_state_say_why_in_french(app, failed_image):
    client = app.test_client()
    page = client.get(f"/status/{failed_image['token']}").get_data(as_text=True)
    live = client.get(f"/status/{failed_image['token']}/media.json").json

    assert FIXITY_FR in page and FIXITY_EN not in page
    [item] = live["media"]
    assert item["failure_reason"] == FIXITY_FR
    assert item["failure_code"] == "fixity"  # for programs, whatever the language


def test_the_review_page_says_why_in_the_archivists_language(app, failed_image):
    archivist = _archivist(app)
    french = archivist.get(f"/moderation/stories/{failed_image['story_id']}").get_data(True)
    archivist.set_cookie("lang", "en", domain="passages.test")
    english = archivist.get(f"/moderation/stories/{failed_image['story_id']}").get_data(True)

    assert FIXITY_FR in french and FIXITY_EN not in french
    assert FIXITY_EN in english


def test_the_api_gives_the_words_in_the_callers_language_and_the_code(app, failed_image):
    from tests.conftest import issue_token_now

    with app.app_context():
        token = issue_token_now("contributor@example.org")
    client = app.test_client()
    url = f"/api/v1/stories/{failed_image['story_id']}"
    auth = {"Authorization": f"Bearer {token}"}

    [english] = client.get(url, headers=auth).json["media"]
    [french] = client.get(url, headers={**auth, "Accept-Language": "fr"}).json["media"]

    assert (english["failure_reason"], english["failure_code"]) == (FIXITY_EN, "fixity")
    assert (french["failure_reason"], french["failure_code"]) == (FIXITY_FR, "fixity")


@pytest.mark.parametrize(
    ("old", "french"),
    [
        (
            "the image is damaged or incomplete (truncated JPEG data)",
            "l’image est endommagée ou incomplète (données JPEG tronquées)",
        ),
        (
            "processing took longer than the 30 s a job may run",
            "le traitement a duré plus que les 30 s permises à une tâche",
        ),
        ("Boom: something odd", "le traitement a échoué (Boom: something odd)"),
    ],
)
def test_a_reason_stored_in_english_before_codes_is_shown_in_french(app, failed_image, old, french):
    from webapp.extensions import db
    from webapp.models import MediaAsset

    with app.app_context():
        db.session.get(MediaAsset, failed_image["media_id"]).failure_reason = old
        db.session.commit()
    page = app.test_client().get(f"/status/{failed_image['token']}").get_data(as_text=True)

    assert french in page
    assert old not in page or old.startswith("Boom")


def test_an_upload_refused_by_the_form_says_why_in_french(app):
    response = app.test_client().post(
        "/submit",
        data={
            **_form(),
            "images": (io.BytesIO(b"hello, this is not a photo\n" * 4), "notes.jpg"),
        },
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)

    assert response.status_code == 422
    assert "notes.jpg" in html
    assert "format non accepté : fichier texte" in html
    assert "unsupported format" not in html


def _form() -> dict[str, str]:
    return {
        "title": "Le marché",
        "body": "Un texte.",
        "language": "fr",
        "licence": "CC-BY-4.0",
        "consent": "yes",
        "alt_texts": "Une photo",
    }


def test_every_refusal_the_media_code_raises_has_words_in_every_language():
    """A new refusal in ``webapp.media`` with a code the table lacks would show as a bare code."""
    import ast
    from pathlib import Path

    from webapp import labels

    refusals = {"ImageRejected", "UnsupportedFormat", "InvalidImage", "ImageTooLarge",
                "RecordingRejected", "NotARecording", "RecordingTooLong"}  # fmt: skip
    codes = set()
    for name in ("imaging.py", "recording.py"):
        tree = ast.parse((Path(labels.__file__).parent / "media" / name).read_text())
        for call in ast.walk(tree):
            if (isinstance(call, ast.Call) and getattr(call.func, "id", None) in refusals
                    and len(call.args) > 1):  # fmt: skip
                code = call.args[1]
                if isinstance(code, ast.Constant):
                    codes.add(code.value)
                else:  # f"{kind}_undecodable"
                    codes.update({"audio_undecodable", "video_undecodable"})
    assert len(codes) > 30
    assert codes - set(labels.REASON) == set()


@pytest.mark.parametrize(
    "stored",
    [
        'written_by_a_newer_worker {"a": 1}',  # a rolling deploy: a code this version lacks
        "truncated",  # a code without the parameters its words need
        'image_too_large {"width": 1}',
        "truncated {not json}",
    ],
)
def test_a_reason_this_version_cannot_word_is_a_plain_processing_failed(app, failed_image, stored):
    from tests.conftest import issue_token_now
    from webapp.extensions import db
    from webapp.models import MediaAsset

    with app.app_context():
        db.session.get(MediaAsset, failed_image["media_id"]).failure_reason = stored
        db.session.commit()
        token = issue_token_now("contributor@example.org")
    page = app.test_client().get(f"/status/{failed_image['token']}").get_data(as_text=True)
    auth = {"Authorization": f"Bearer {token}"}
    [media] = (
        app.test_client()
        .get(f"/api/v1/stories/{failed_image['story_id']}", headers=auth)
        .json["media"]
    )

    assert "le traitement a échoué" in page
    assert stored.split()[0] not in page  # neither the code…
    params = stored.partition(" ")[2]
    assert not params or html.escape(params) not in page  # …nor its parameters
    # The code the API gives is the one whose words it shows.
    assert (media["failure_code"], media["failure_reason"]) == (
        "processing_failed",
        "processing failed",
    )
