"""An export keeps a document's kind and provenance, and an import brings them back."""

from __future__ import annotations

import csv

from tests.conftest import _dispose, build_app, create_user_now
from tests.documents.conftest import SOURCE
from tests.interop_bags.conftest import invoke, read_stories_csv, unpack
from webapp.interop.commands import export_command, import_command


def test_document_survives_export_and_import(app, make_document, make_story, tmp_path):
    make_document()
    make_story("Le bal de Champigny")
    bag = tmp_path / "bag.zip"
    assert invoke(app, export_command, "--out", str(bag)).exit_code == 0
    rows = {r["title"]: r for r in read_stories_csv(unpack(bag, tmp_path / "unpacked"))}
    letter = rows["Lettre de demande de logement"]
    assert letter["kind"] == "document" and letter["source_reference"] == SOURCE["reference"]
    assert rows["Le bal de Champigny"]["kind"] == "story"

    other = build_app(tmp_path / "instance-b", SERVER_NAME="archive-b.test")
    try:
        with other.app_context():
            create_user_now("admin@b.example.org", "admin")
        result = invoke(other, import_command, str(bag), "--as", "published")
        assert result.exit_code == 0, result.output
        from webapp.extensions import db
        from webapp.models import Story
        from webapp.services import documents

        with other.app_context():
            imported = db.session.scalar(db.select(Story).where(Story.kind == "document"))
            assert documents.source_json(imported) == SOURCE
            assert imported.period == "~1962"
    finally:
        _dispose(other)


def test_import_says_what_a_document_row_lacks(app, make_user, tmp_path):
    from webapp.interop.columns import BOM, COLUMN_NAMES

    table = tmp_path / "documents.csv"
    with table.open("w", encoding="utf-8", newline="") as out:
        out.write(BOM)
        writer = csv.DictWriter(out, fieldnames=COLUMN_NAMES)
        writer.writeheader()
        base = {"title": "Affiche", "language": "fr", "licence": "CC-BY-4.0"}
        writer.writerow({**base, "kind": "document", "source_institution": "AD 94"})
        writer.writerow({**base, "title": "Autre", "kind": "poster"})
        writer.writerow({**base, "title": "Histoire", "source_reference": "1 W 1"})
    with app.app_context():
        create_user_now("admin@example.org", "admin")
    result = invoke(app, import_command, str(table), "--dry-run")
    assert result.exit_code != 0
    for words in ("source_reference", "unknown kind 'poster'", "only for archive documents"):
        assert words in result.output, result.output
