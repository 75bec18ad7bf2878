"""Indicators per archive document for the yearly report: classes and responses (projects once
class projects record their documents), on the page and as CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime


def _classes(app, make_user, count: int) -> list[int]:
    from webapp.extensions import db
    from webapp.models import SchoolClass

    teacher = make_user("teacher")
    with app.app_context():
        rows = [
            SchoolClass(name=f"4e{n}", code=f"CODE{n}X", teacher_id=teacher) for n in range(count)
        ]
        db.session.add_all(rows)
        db.session.commit()
        return [row.id for row in rows]


def test_classes_and_responses_are_counted_per_document(
    app, client, login, make_user, make_document, make_story, respond
):
    letter = make_document("Lettre au préfet")
    poster = make_document("Affiche du bal", source_reference="12 Fi 3")
    make_document("Registre d'entrée", status="submitted", source_reference="3 W 1")
    class_a, class_b = _classes(app, make_user, 2)
    stories = [
        make_story("Réponse 1", class_id=class_a),
        make_story("Réponse 2", class_id=class_a),
        make_story("Réponse 3", class_id=class_b, status="in_review"),
        make_story("Réponse 4", class_id=class_b, status="draft"),  # not handed in: not counted
        make_story("Réponse sans classe"),
    ]
    for story_id in stories:
        respond(story_id, [letter])
    respond(stories[0], [letter, poster])
    login("archivist")
    page = client.get("/indicators/")
    assert page.status_code == 200
    rows = list(
        csv.reader(io.StringIO(client.get("/indicators/documents.csv").text.lstrip("\ufeff")))
    )
    # Headers and yes/no in the interface language (French by default), like every visible word.
    assert rows[0] == ["Numéro du document", "Titre", "Cote", "Document publié",
                       "Projets de classe", "Classes", "Réponses écrites",
                       "Réponses publiées"]  # fmt: skip
    by_title = {row[1]: row for row in rows[1:]}
    assert by_title["Lettre au préfet"][3:] == ["oui", "0", "2", "4", "3"]
    assert by_title["Affiche du bal"][3:] == ["oui", "0", "1", "1", "1"]
    assert by_title["Registre d'entrée"][3:] == ["non", "0", "0", "0", "0"]
    body = page.text.split("</title>", 1)[1]  # the table is in the page, not in its title
    assert 'class="document-indicators"' in body
    assert "Lettre au préfet" in body and "Réponses remises" in body
    year = datetime.now(UTC).year
    assert client.get(f"/indicators/documents.csv?year={year - 3}").text.count("\n") == 4
    last_year = list(
        csv.reader(io.StringIO(client.get(f"/indicators/documents.csv?year={year - 3}").text))
    )
    assert all(row[6] == "0" for row in last_year[1:])
    assert client.get("/indicators/?year=deux-mille").status_code == 400


def test_document_indicators_are_for_archivists_only(client, login):
    login("teacher")
    assert client.get("/indicators/documents.csv").status_code == 403
