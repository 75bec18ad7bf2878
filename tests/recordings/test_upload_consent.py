"""The consent of the person heard or seen in a recording is captured with the upload: on the
form (one section for every recording without JavaScript, one set of fields per file with it)
and in the API's metadata (``recording_consents``), written with the media rows in one
transaction, and gating publication exactly as when it is recorded afterwards."""

from __future__ import annotations

import io
import json

from tests.conftest import make_jpeg, story_metadata
from tests.recordings.generate import make_audio


def _form(**fields):
    form = {
        "title": "Entretien avec Fatima",
        "body": "Fatima raconte son arrivée à Orly.",
        "language": "fr",
        "licence": "CC-BY-4.0",
        "consent": "yes",
        "alt_texts": "La cour de la cité",
    }
    form.update(fields)
    return form


def _consents(app) -> dict[str, tuple]:
    """Each recording's file name → (person, agreed, minor, guardian recorded, declared)."""
    from webapp.extensions import db
    from webapp.models import MediaAsset, RecordingConsent

    with app.app_context():
        rows = db.session.execute(
            db.select(MediaAsset.original_filename, RecordingConsent).join(
                RecordingConsent, RecordingConsent.media_id == MediaAsset.id
            )
        ).all()
        return {
            name: (
                row.person,
                row.consent_given,
                row.minor,
                row.guardian_consent_by,
                row.guardian_declared_by,
            )
            for name, row in rows
        }


def _blockers(app) -> list[str]:
    from webapp.extensions import db
    from webapp.models import Story
    from webapp.services import consent

    with app.app_context(), app.test_request_context():
        story = db.session.scalars(db.select(Story).order_by(Story.id.desc())).first()
        return consent.publication_blockers(story)


def test_without_javascript_the_form_s_consent_section_applies_to_every_recording(app, client):
    page = client.get("/submit").get_data(as_text=True)
    assert "Consentement des personnes entendues ou filmées" in page
    data = _form(rec_person="Fatima B.", rec_consent="yes", alt_texts="\nLa cour de la cité")
    data["images"] = [
        (io.BytesIO(make_audio("wav", seconds=2.0)), "fatima.wav"),
        (io.BytesIO(make_jpeg(400, 300)), "cour.jpg"),
        (io.BytesIO(make_audio("mp3", seconds=2.0)), "suite.mp3"),
    ]
    response = client.post("/submit", data=data, content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)
    assert _consents(app) == {
        "fatima.wav": ("Fatima B.", True, False, None, None),
        "suite.mp3": ("Fatima B.", True, False, None, None),
    }
    assert _blockers(app) == []  # nothing left to record before an archivist may publish


def test_a_recording_sent_without_consent_keeps_the_story_from_publication(app, client):
    data = _form()
    data["images"] = [(io.BytesIO(make_audio("wav", seconds=2.0)), "fatima.wav")]
    assert client.post("/submit", data=data, content_type="multipart/form-data").status_code == 303
    assert _consents(app) == {}
    assert any("fatima.wav" in reason for reason in _blockers(app))


def test_the_script_s_per_file_fields_give_each_recording_its_own_person(app, client):
    data = _form(
        rec0="yes", rec0_person="Fatima", rec0_consent="yes",
        rec1="yes", rec1_person="Karim",  # did not agree
    )  # fmt: skip
    data["images"] = [
        (io.BytesIO(make_audio("wav", seconds=2.0)), "fatima.wav"),
        (io.BytesIO(make_audio("wav", seconds=3.0)), "karim.wav"),
    ]
    assert client.post("/submit", data=data, content_type="multipart/form-data").status_code == 303
    assert _consents(app) == {
        "fatima.wav": ("Fatima", True, False, None, None),
        "karim.wav": ("Karim", False, False, None, None),
    }
    blockers = _blockers(app)
    assert len(blockers) == 1 and "karim.wav" in blockers[0]


def test_a_contributor_s_word_for_a_guardian_waits_for_a_teacher_or_an_archivist(
    app, client, login
):
    data = _form(
        rec_person="Yanis", rec_consent="yes", rec_minor="yes",
        rec_guardian="sa mère, formulaire signé", rec_guardian_consent="yes",
    )  # fmt: skip
    data["images"] = [(io.BytesIO(make_audio("wav", seconds=2.0)), "yanis.wav")]
    assert client.post("/submit", data=data, content_type="multipart/form-data").status_code == 303
    assert _consents(app)["yanis.wav"] == ("Yanis", True, True, None, "sa mère, formulaire signé")
    assert any("mineure" in reason for reason in _blockers(app))

    from webapp.extensions import db
    from webapp.models import MediaAsset

    with app.app_context():
        media_id = db.session.scalar(db.select(MediaAsset.id))
    login("archivist")
    editor = client.get(f"/recordings/{media_id}/edit").get_data(as_text=True)
    assert 'name="guardian_by" value="sa mère, formulaire signé"' in editor


def test_a_ticked_guardian_consent_without_a_name_is_refused_and_nothing_is_kept(app, client):
    data = _form(rec_person="Yanis", rec_consent="yes", rec_minor="yes", rec_guardian_consent="yes")
    data["images"] = [(io.BytesIO(make_audio("wav", seconds=2.0)), "yanis.wav")]
    response = client.post("/submit", data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "qui a donné le consentement du parent" in response.get_data(as_text=True)
    assert 'value="Yanis"' in response.get_data(as_text=True)  # what was typed is kept
    assert _consents(app) == {}


def _upload(client, token: str, consents, *files):
    metadata = story_metadata(recording_consents=consents)
    return client.post(
        "/api/v1/stories",
        data={
            "metadata": json.dumps(metadata),
            "files": [(io.BytesIO(content), name) for name, content in files],
        },
        headers={"Authorization": f"Bearer {token}"},
        content_type="multipart/form-data",
    )


def test_the_api_takes_each_file_s_consent_and_a_guardian_s_from_an_archivist(
    app, client, make_user, api_token
):
    entries = [
        None,
        {"person": "Yanis", "consent": True, "minor": True, "guardian_by": "père, par écrit"},
    ]
    photo, voice = ("cour.jpg", make_jpeg(300, 200)), ("yanis.wav", make_audio("wav", 2.0))
    answer = _upload(client, api_token(make_user("archivist")), entries, photo, voice)
    assert answer.status_code == 202, answer.json
    assert _consents(app) == {"yanis.wav": ("Yanis", True, True, "père, par écrit", None)}
    assert _blockers(app) == []


def test_the_api_keeps_a_contributor_s_guardian_as_a_declaration(app, client, make_user, api_token):
    entries = [{"person": "Yanis", "consent": True, "minor": True, "guardian_by": "mère"}]
    answer = _upload(client, api_token(make_user("contributor")), entries,
                     ("yanis.wav", make_audio("wav", 2.0)))  # fmt: skip
    assert answer.status_code == 202, answer.json
    assert _consents(app) == {"yanis.wav": ("Yanis", True, True, None, "mère")}
    assert any("mineure" in reason for reason in _blockers(app))


def test_a_malformed_consent_is_refused_before_anything_is_stored(
    app, client, make_user, api_token
):
    from webapp.extensions import db
    from webapp.models import MediaAsset

    answer = _upload(client, api_token(make_user("contributor")), [{"consent": "oui"}],
                     ("yanis.wav", make_audio("wav", 2.0)))  # fmt: skip
    assert answer.status_code == 422
    assert "recording_consents" in json.dumps(answer.json)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(MediaAsset)) == 0


def test_the_consent_commits_with_the_media_rows_or_not_at_all(
    app, client, make_user, api_token, monkeypatch
):
    from webapp.extensions import db
    from webapp.models import MediaAsset, RecordingConsent
    from webapp.services import notifications

    def fail(*args, **kwargs):
        raise RuntimeError("the action fails after the consent was added")

    monkeypatch.setattr(notifications, "story_moved", fail)
    token = api_token(make_user("contributor"))
    answer = _upload(client, token, [{"person": "Fatima", "consent": True}],
                     ("fatima.wav", make_audio("wav", 2.0)))  # fmt: skip
    assert answer.status_code == 500
    with app.app_context():
        for table in (MediaAsset, RecordingConsent):
            assert db.session.scalar(db.select(db.func.count()).select_from(table)) == 0


def test_the_openapi_document_describes_recording_consents(client):
    schema = client.get("/api/v1/story.schema.json").json
    entry = schema["$defs"]["recording_consent"]
    assert entry["required"] == ["consent"]
    assert {"person", "consent", "minor", "guardian_by"} == set(entry["properties"])
    assert "recording_consents" in schema["properties"]
    assert "story.schema.json" in json.dumps(client.get("/api/v1/openapi.json").json)
