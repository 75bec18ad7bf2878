"""Attaching transcripts and index points to a recording, serving them as WebVTT, the player
page, search that jumps to the moment, consent of the person recorded, and erasure."""

from __future__ import annotations

import io

from tests.conftest import in_action
from tests.transcripts.conftest import INTERVIEW_VTT

SRT = (
    "1\r\n00:00:01,000 --> 00:00:05,000\r\nJe suis arrivée à Orly en hiver 1962.\r\n\r\n"
    "2\r\n00:00:12,000 --> 00:00:16,000\r\nMon père réparait un tabouret dans la cour.\r\n"
)


def _post_transcript(client, media_id, token, body, language="fr", **headers):
    return client.post(
        f"/api/v1/media/{media_id}/transcripts?language={language}",
        data=body.encode("utf-8") if isinstance(body, str) else body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/vtt", **headers},
    )


def test_the_contributor_attaches_a_webvtt_transcript_and_the_public_gets_it_as_text_vtt(
    app, client, make_user, api_token, recorded_story
):
    owner = make_user("archivist")  # a published story's words: archive only
    story_id, media_id = recorded_story(submitted_by=owner)
    response = _post_transcript(client, media_id, api_token(owner), INTERVIEW_VTT)
    assert response.status_code == 201, response.json
    assert response.json["language"] == "fr" and response.json["cues"] == 4

    served = client.get(response.json["url"])
    assert served.status_code == 200
    assert served.mimetype == "text/vtt"
    text = served.get_data(as_text=True)
    assert text.startswith("WEBVTT\n")
    assert "Je suis arrivée à Orly" in text and "قالت لي أمي" in text
    # Overlapping cues (two voices at once) are both kept.
    assert "00:00:01.000 --> 00:00:05.000" in text and "00:00:04.000 --> 00:00:08.000" in text

    document = client.get(f"/api/v1/stories/{story_id}").json
    assert document["media"][0]["transcripts"] == [{"language": "fr", "url": response.json["url"]}]


def test_an_srt_body_is_accepted_and_served_as_webvtt_and_replaces_the_same_language(
    client, make_user, api_token, recorded_story
):
    owner = make_user("archivist")  # a published story's words: archive only
    _, media_id = recorded_story(submitted_by=owner)
    token = api_token(owner)
    assert _post_transcript(client, media_id, token, INTERVIEW_VTT).status_code == 201
    response = _post_transcript(client, media_id, token, SRT, Content_Type="application/x-subrip")
    assert response.status_code == 201 and response.json["cues"] == 2
    text = client.get(response.json["url"]).get_data(as_text=True)
    assert "00:00:12.000 --> 00:00:16.000\nMon père réparait un tabouret" in text
    assert "Orly en hiver" in text and "قالت" not in text  # replaced, not added to


def test_a_bad_file_is_422_with_the_line_to_fix_and_nothing_is_stored(
    client, make_user, api_token, recorded_story
):
    owner = make_user("archivist")  # a published story's words: archive only
    _, media_id = recorded_story(submitted_by=owner)
    bad = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nun\n\n00:00:03.000 --> 00:00:xx.000\ndeux\n"
    response = _post_transcript(client, media_id, api_token(owner), bad)
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "transcript_rejected" and error["line"] == 6
    assert error["message"].startswith("line 6: ")
    assert client.get(f"/media/{media_id}/transcripts/fr.vtt").status_code == 404

    no_language = _post_transcript(client, media_id, api_token(owner), INTERVIEW_VTT, language="")
    assert no_language.status_code == 422 and no_language.json["error"]["field"] == "language"


def test_only_archivists_and_the_contributor_may_attach(
    client, make_user, api_token, recorded_story
):
    owner = make_user("contributor")
    _, media_id = recorded_story(submitted_by=owner)
    stranger = api_token(make_user("contributor"))
    teacher = api_token(make_user("teacher"))
    assert _post_transcript(client, media_id, stranger, INTERVIEW_VTT).status_code == 403
    assert _post_transcript(client, media_id, teacher, INTERVIEW_VTT).status_code == 403
    anonymous = client.post(f"/api/v1/media/{media_id}/transcripts?language=fr", data="WEBVTT")
    assert anonymous.status_code == 401
    archivist = api_token(make_user("archivist"))
    assert _post_transcript(client, media_id, archivist, INTERVIEW_VTT).status_code == 201


def test_the_contributor_transcribes_before_approval_and_only_the_archive_after_it(
    client, make_user, api_token, recorded_story
):
    owner = make_user("contributor")
    token = api_token(owner)
    _, in_review = recorded_story(submitted_by=owner, status="in_review")
    assert _post_transcript(client, in_review, token, INTERVIEW_VTT).status_code == 201
    _, published = recorded_story(submitted_by=owner)
    refused = _post_transcript(client, published, token, INTERVIEW_VTT)
    assert refused.status_code == 403
    assert "ask an archivist" in refused.json["error"]["message"]
    assert client.get(f"/media/{published}/transcripts/fr.vtt").status_code == 404  # unchanged


def test_an_unpublished_story_s_transcript_is_never_served_nor_searchable(
    client, make_user, api_token, recorded_story, index_now
):
    owner = make_user("contributor")
    story_id, media_id = recorded_story(submitted_by=owner, status="submitted")
    response = _post_transcript(client, media_id, api_token(owner), INTERVIEW_VTT)
    assert response.status_code == 201
    index_now(story_id)
    assert client.get(response.json["url"]).status_code == 404
    assert client.get(f"/media/{media_id}/chapters.vtt").status_code == 404
    assert client.get("/api/v1/search?q=tabouret").json["total"] == 0
    page = client.get("/search?q=tabouret").get_data(as_text=True)
    assert "Entretien avec Fatima" not in page and "dans la cour" not in page


def test_search_finds_a_word_said_at_00_12_and_links_to_that_moment(
    app, client, make_user, api_token, recorded_story, index_now
):
    owner = make_user("archivist")  # a published story's words: archive only
    story_id, media_id = recorded_story(submitted_by=owner)
    assert _post_transcript(client, media_id, api_token(owner), INTERVIEW_VTT).status_code == 201
    index_now(story_id)

    results = client.get("/api/v1/search?q=tabouret").json["results"]
    assert [r["id"] for r in results] == [story_id]
    assert results[0]["at"]["media"] == media_id and results[0]["at"]["start"] == 12.0
    assert results[0]["url"].endswith(f"#t=00:12&media={media_id}")
    assert "<mark>tabouret</mark>" in results[0]["at"]["said"]

    page = client.get("/search?q=tabouret").get_data(as_text=True)
    assert f"-entretien-avec-fatima#t=00:12&amp;media={media_id}" in page
    assert "<mark>tabouret</mark> dans la cour" in page

    # Arabic speech is searchable too; a word of the story's own text carries no moment.
    arabic = client.get("/api/v1/search?q=بلدك").json["results"]
    assert arabic[0]["at"]["start"] == 8.0
    body_only = client.get("/api/v1/search?q=raconte").json["results"]
    assert [r["id"] for r in body_only] == [story_id] and "at" not in body_only[0]


def test_a_new_transcript_reindexes_the_story_through_the_outbox(
    app, client, make_user, api_token, recorded_story
):
    from webapp.extensions import db
    from webapp.models import OutboxEvent
    from workers.relay import jobs_for

    owner = make_user("archivist")  # a published story's words: archive only
    story_id, media_id = recorded_story(submitted_by=owner)
    assert _post_transcript(client, media_id, api_token(owner), INTERVIEW_VTT).status_code == 201
    with app.app_context():
        event = db.session.scalar(
            db.select(OutboxEvent).where(OutboxEvent.event_type == "story.transcript_changed")
        )
        assert event.payload == {"story_id": story_id, "media_id": media_id}
        assert [(r.func, r.args) for r in jobs_for(event)] == [
            ("workers.search.index_story", (story_id,))
        ]


def test_the_story_page_shows_player_transcript_chapters_and_tracks(
    app, client, make_user, api_token, recorded_story, index_now
):
    from webapp.models import User
    from webapp.services import transcripts

    owner = make_user("archivist")  # a published story's words: archive only
    story_id, media_id = recorded_story(submitted_by=owner)
    assert _post_transcript(client, media_id, api_token(owner), INTERVIEW_VTT).status_code == 201
    with app.app_context():
        from webapp.extensions import db

        actor = db.session.get(User, owner)
        points = [
            transcripts.IndexPointInput("00:00", "Arrivée", "Orly, hiver", "Le voyage."),
            transcripts.IndexPointInput("00:12", "La cour", "père, atelier", ""),
        ]
        in_action(transcripts.set_index_points, media_id, points, actor)

    page = client.get(f"/stories/{story_id}", follow_redirects=True).get_data(as_text=True)
    assert f'<audio id="player-{media_id}"' in page
    assert f'<track kind="captions" src="/media/{media_id}/transcripts/fr.vtt" srclang="fr"' in page
    assert f'<track kind="chapters" src="/media/{media_id}/chapters.vtt"' in page
    assert f'href="#t=00:12&amp;media={media_id}" class="seek cue"' in page
    assert "Mon père réparait un tabouret dans la cour." in page
    assert 'lang="fr"' in page and "قالت لي أمي" in page
    assert "La cour" in page and "père, atelier" in page

    chapters = client.get(f"/media/{media_id}/chapters.vtt")
    assert chapters.mimetype == "text/vtt"
    assert "00:00:00.000 --> 00:00:12.000\nArrivée" in chapters.get_data(as_text=True)

    # Index points are searchable and lead to their moment.
    index_now(story_id)
    found = client.get("/api/v1/search?q=atelier").json["results"]
    assert [r["id"] for r in found] == [story_id] and found[0]["at"]["start"] == 12.0


def test_typed_lines_become_cues_and_a_line_without_its_time_is_refused_with_its_number(
    app, client, login, recorded_story
):
    owner = login("archivist")  # a published story: archive only
    _, media_id = recorded_story(submitted_by=owner)
    typed = "00:01 Je suis arrivée à Orly\n\n[00:12] Mon père réparait un tabouret\n"
    response = client.post(
        f"/recordings/{media_id}/transcript-text", data={"language": "fr", "text": typed}
    )
    assert response.status_code == 303
    vtt = client.get(f"/media/{media_id}/transcripts/fr.vtt").get_data(as_text=True)
    assert "00:00:01.000 --> 00:00:12.000\nJe suis arrivée à Orly" in vtt
    assert "00:00:12.000 --> 00:00:17.000\nMon père réparait un tabouret" in vtt

    bad = client.post(
        f"/recordings/{media_id}/transcript-text",
        data={"language": "fr", "text": "00:01 Bonjour\nsans heure\n"},
    )
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "ligne 2 : commencez la ligne par le moment" in page  # French by default
    assert "sans heure" in page  # what was typed is given back, not lost


def test_the_editor_page_uploads_a_file_and_saves_index_points(app, client, login, recorded_story):
    owner = login("archivist")  # a published story: archive only
    _, media_id = recorded_story(submitted_by=owner)
    page = client.get(f"/recordings/{media_id}/edit")
    assert page.status_code == 200
    assert 'class="stamp" data-target="t-text"' in page.get_data(as_text=True)
    response = client.post(
        f"/recordings/{media_id}/transcript-file",
        data={"language": "ar", "file": (io.BytesIO(INTERVIEW_VTT.encode()), "t.vtt")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    assert client.get(f"/media/{media_id}/transcripts/ar.vtt").status_code == 200
    response = client.post(
        f"/recordings/{media_id}/index-points",
        data={
            "time": ["01:05", "", "00:10"],
            "title": ["Le travail", "", "L'arrivée"],
            "keywords": ["usine, Renault", "", ""],
            "summary": ["", "", ""],
        },
    )
    assert response.status_code == 303
    chapters = client.get(f"/media/{media_id}/chapters.vtt").get_data(as_text=True)
    assert chapters.index("L'arrivée") < chapters.index("Le travail")
    bad = client.post(
        f"/recordings/{media_id}/index-points",
        data={"time": ["1h"], "title": ["Le travail"], "keywords": [""], "summary": [""]},
        follow_redirects=True,
    )
    assert "point d’index n° 1 :" in bad.get_data(as_text=True)


def test_publication_waits_for_the_recorded_person_s_and_a_guardian_s_consent(
    app, make_user, recorded_story
):
    from webapp.extensions import db
    from webapp.models import Story, User
    from webapp.services import consent

    owner = make_user("contributor")
    story_id, media_id = recorded_story(submitted_by=owner, status="in_review", consent=False)
    with app.app_context():
        story = db.session.get(Story, story_id)
        assert any(
            "person recorded in fatima.m4a" in b for b in consent.publication_blockers(story)
        )
        contributor = db.session.get(User, owner)
        in_action(
            consent.record_recording_consent,
            media_id,
            person="Yanis",
            given=True,
            minor=True,
            guardian_by="",
            actor=contributor,
        )
        db.session.expire_all()
        story = db.session.get(Story, story_id)
        assert any("minor" in b for b in consent.publication_blockers(story))
        archivist = db.session.get(User, make_user("archivist"))
        in_action(
            consent.record_recording_consent,
            media_id,
            person="Yanis",
            given=True,
            minor=True,
            guardian_by="mère, formulaire signé",
            actor=archivist,
        )
        db.session.expire_all()
        assert consent.publication_blockers(db.session.get(Story, story_id)) == []


def test_erasure_removes_transcripts_index_points_consent_and_index_entries(
    app, client, login, make_user, api_token, recorded_story, index_now
):
    from webapp.extensions import db
    from webapp.models import IndexPoint, RecordingConsent, Transcript, TranscriptCue

    owner = make_user("archivist")  # a published story's words: archive only
    story_id, media_id = recorded_story(submitted_by=owner)
    assert _post_transcript(client, media_id, api_token(owner), INTERVIEW_VTT).status_code == 201
    index_now(story_id)
    assert client.get("/api/v1/search?q=tabouret").json["total"] == 1
    login("archivist")
    response = client.post(f"/moderation/stories/{story_id}/erase", data={"confirm": "ERASE"})
    assert response.status_code == 303
    with app.app_context():
        for model in (Transcript, TranscriptCue, IndexPoint, RecordingConsent):
            assert db.session.scalar(db.select(db.func.count()).select_from(model)) == 0
    assert client.get(f"/media/{media_id}/transcripts/fr.vtt").status_code == 404
    with app.app_context():  # what the story.erased event's search job does
        from webapp.services import backends

        backends.search_index().purge(story_id)
    assert client.get("/api/v1/search?q=tabouret").json["total"] == 0


def test_a_recording_is_served_in_byte_ranges_so_players_can_seek(client, recorded_story):
    _, media_id = recorded_story(audio=True)
    whole = client.get(f"/media/{media_id}/audio")
    assert whole.status_code == 200 and whole.headers["Accept-Ranges"] == "bytes"
    part = client.get(f"/media/{media_id}/audio", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(whole.data)}"
    assert part.data == whole.data[100:200]


def test_a_teacher_of_the_class_records_consent_on_the_editor_but_cannot_transcribe(
    app, client, login, make_user, recorded_story
):
    from webapp.extensions import db
    from webapp.models import SchoolClass, User

    teacher_id = login("teacher")
    with app.app_context():
        klass = SchoolClass(name="4e B", teacher_id=teacher_id, code="ABCD-1234")
        db.session.add(klass)
        db.session.commit()
        class_id = klass.id
        assert db.session.get(User, teacher_id).role == "teacher"
    story_id, media_id = recorded_story(status="in_review", consent=False, class_id=class_id)
    page = client.get(f"/recordings/{media_id}/edit")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="guardian_by"' in html and 'id="transcripts"' not in html
    review = client.get(f"/moderation/stories/{story_id}").get_data(as_text=True)
    assert f"/recordings/{media_id}/edit" in review
    response = client.post(
        f"/recordings/{media_id}/consent",
        data={"person": "Yanis", "consent_given": "yes", "minor": "yes", "guardian_by": "père"},
    )
    assert response.status_code == 303
    with app.app_context():
        from webapp.models import RecordingConsent

        row = db.session.get(RecordingConsent, media_id)
        assert row.consent_given and row.minor and row.guardian_consent_by == "père"
    refused = client.post(
        f"/recordings/{media_id}/transcript-text", data={"language": "fr", "text": "00:01 a"}
    )
    assert refused.status_code == 403


def test_a_contributor_cannot_record_a_guardian_s_consent_themselves(
    app, make_user, recorded_story
):
    import pytest

    from webapp.errors import Forbidden
    from webapp.extensions import db
    from webapp.models import User
    from webapp.services import consent

    owner = make_user("contributor")
    _, media_id = recorded_story(submitted_by=owner, status="submitted", consent=False)
    with app.app_context(), pytest.raises(Forbidden, match="guardian"):
        in_action(
            consent.record_recording_consent,
            media_id,
            person="Yanis",
            given=True,
            minor=True,
            guardian_by="moi",
            actor=db.session.get(User, owner),
        )


def test_the_api_records_the_recorded_person_s_consent_for_the_contributor(
    client, make_user, api_token, recorded_story
):
    owner = make_user("contributor")
    _, media_id = recorded_story(submitted_by=owner, status="submitted", consent=False)
    token = {"Authorization": f"Bearer {api_token(owner)}"}
    url = f"/api/v1/media/{media_id}/consent"
    answer = client.post(
        f"/api/v1/media/{media_id}/consent",
        json={"person": "Yanis", "consent": True, "minor": True},
        headers=token,
    )
    assert answer.status_code == 200
    assert answer.json["consent"] is True and answer.json["minor"] is True
    assert "guardian" in answer.json["blockers"][0]
    refused = client.post(
        url, json={"consent": True, "minor": True, "guardian_by": "moi"}, headers=token
    )
    assert refused.status_code == 403
    assert client.post(url, json={"consent": "oui"}, headers=token).status_code == 400
    assert client.post(url, json={"consent": True}).status_code == 401
    stranger = {"Authorization": f"Bearer {api_token(make_user('contributor'))}"}
    assert client.post(url, json={"consent": True}, headers=stranger).status_code == 404


def test_the_review_history_names_recording_events_in_french(
    client, make_user, api_token, recorded_story, login
):
    archivist = make_user("archivist")
    story_id, media_id = recorded_story(submitted_by=archivist, status="in_review")
    assert (
        _post_transcript(client, media_id, api_token(archivist), INTERVIEW_VTT).status_code == 201
    )
    login("archivist")
    page = client.get(f"/moderation/stories/{story_id}").get_data(as_text=True)
    assert "transcription d’un enregistrement ajoutée" in page
    assert "story.transcript.attached" not in page


ENGLISH_VTT = """WEBVTT

00:00:03.000 --> 00:00:07.000
My grandparents migrated from Oran in 1962.
"""


def test_an_english_transcript_of_a_french_story_is_searched_with_english_stems(
    client, make_user, api_token, recorded_story, index_now
):
    archivist = make_user("archivist")
    token = api_token(archivist)
    story_id, media_id = recorded_story(submitted_by=archivist)  # the story is in French
    assert _post_transcript(client, media_id, token, ENGLISH_VTT, "en").status_code == 201
    index_now(story_id)

    results = client.get("/api/v1/search?q=migrating").json["results"]
    assert [r["id"] for r in results] == [story_id]
    assert results[0]["at"]["start"] == 3.0
    assert "<mark>migrated</mark>" in results[0]["at"]["said"]
    page = client.get("/search?q=migrating").get_data(as_text=True)
    assert "#t=00:03" in page and "<mark>migrated</mark> from Oran" in page

    # The same words filed as a French transcript: French stems do not join the two forms.
    other_story, other_media = recorded_story(submitted_by=archivist)
    assert _post_transcript(client, other_media, token, ENGLISH_VTT, "fr").status_code == 201
    index_now(other_story)
    assert [r["id"] for r in client.get("/api/v1/search?q=migrating").json["results"]] == [story_id]
    assert client.get("/api/v1/search?q=migrated").json["total"] == 2


def test_index_point_and_typed_line_problems_are_said_in_french(client, login, recorded_story):
    owner = login("archivist")
    _, media_id = recorded_story(submitted_by=owner)
    french = {"Accept-Language": "fr"}

    bad_time = client.post(
        f"/recordings/{media_id}/index-points",
        data={"time": ["01:75"], "title": ["Le travail"], "keywords": [""], "summary": [""]},
        headers=french,
        follow_redirects=True,
    ).get_data(as_text=True)
    no_time = client.post(
        f"/recordings/{media_id}/transcript-text",
        data={"language": "fr", "text": "00:01 Bonjour\nsans heure\n"},
        headers=french,
    ).get_data(as_text=True)

    assert (
        "point d’index n° 1 : « 01:75 » : les minutes et les secondes vont jusqu’à 59" in bad_time
    )
    assert "ligne 2 : commencez la ligne par le moment où elle est dite" in no_time


def test_a_file_that_cannot_be_read_is_explained_in_the_caller_s_language(
    client, make_user, api_token, recorded_story
):
    owner = make_user("archivist")
    _, media_id = recorded_story(submitted_by=owner)
    token = api_token(owner)
    reversed_cue = "WEBVTT\n\n00:00:09.000 --> 00:00:03.000\nBonjour\n"
    french = _post_transcript(client, media_id, token, reversed_cue, **{"Accept-Language": "fr"})
    english = _post_transcript(client, media_id, token, reversed_cue, **{"Accept-Language": "en"})
    assert french.status_code == english.status_code == 422
    assert (
        "ligne 3 : la réplique finit (00:00:03.000) avant de commencer (00:00:09.000)"
        in (french.get_json()["error"]["message"])
    )
    assert (
        "line 3: the cue ends (00:00:03.000) before it starts (00:00:09.000)"
        in (english.get_json()["error"]["message"])
    )
    no_timing = _post_transcript(
        client, media_id, token, "WEBVTT\n\nrien\n", **{"Accept-Language": "fr"}
    )
    assert no_timing.get_json()["error"]["message"] == (
        "ligne 3 : une ligne de temps comme 00:00:12.000 --> 00:00:15.500 était attendue, "
        "trouvé 'rien'"
    )
