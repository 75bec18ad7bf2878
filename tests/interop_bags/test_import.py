"""``passages import``: every problem of every row before anything is written, then one unit of
work per row, idempotent by the rows' import keys; hostile files refused with a clear error."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import zipfile
from pathlib import Path

import pytest

from tests.conftest import make_jpeg
from tests.interop_bags.conftest import invoke
from webapp.interop.commands import import_command

HEADER = ["identifier", "title", "description", "language", "places", "period", "themes",
          "licence", "organisation", "images", "image_sha256"]  # fmt: skip


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER, **options) -> Path:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    encoding = options.get("encoding", "utf-8")
    bom = "\ufeff" if encoding == "utf-8" else ""
    path.write_bytes((bom + buffer.getvalue()).encode(encoding))
    return path


def row(identifier: str, title: str, images: str = "", **cells: str) -> list[str]:
    values = {
        "identifier": identifier,
        "title": title,
        "description": "Texte du récit.",
        "language": "fr",
        "places": "Montreuil|Bamako",
        "period": "1975",
        "themes": "travail",
        "licence": "CC-BY-4.0",
        "organisation": "",
        "images": images,
        "image_sha256": "",
    }
    values.update(cells)
    return [values[name] for name in HEADER]


def story_count(app) -> int:
    from webapp.extensions import db
    from webapp.models import Story

    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(Story))


@pytest.fixture
def admin(make_user):
    return make_user("admin")


def test_dry_run_reports_every_problem_of_every_row_and_writes_nothing(app, admin, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "ok.jpg").write_bytes(make_jpeg())
    (images / "fake.jpg").write_bytes(b"%PDF-1.4 not an image")
    source = write_csv(
        tmp_path / "stories.csv",
        [
            row("A-1", "Bon récit", "ok.jpg"),
            row("A-2", "Licence inconnue", licence="CC-BY-9.9"),
            row("A-3", "", language="pas une langue"),
            row("A-4", "Image absente", "absente.jpg"),
            row("A-5", "Faux JPEG", "fake.jpg"),
            row("A-6", "Organisation inconnue", organisation="Nulle part"),
            row("A-1", "Même identifiant"),
            row("A-8", "Période", period="l'an dernier"),
            ["A-9", "trop court"],
        ],
    )
    result = invoke(app, import_command, str(source), "--images", str(images), "--dry-run")
    assert result.exit_code == 1
    errors = result.stderr
    expected = [
        ("row 3, column licence", "unknown licence 'CC-BY-9.9'"),
        ("row 4, column title", "the title is empty"),
        ("row 4, column language", "is not a language tag"),
        ("row 5, column images", "image file not found: absente.jpg"),
        ("row 6, column images", "fake.jpg"),
        ("row 7, column organisation", "no organisation named 'Nulle part'"),
        ("row 8, column identifier", "same identifier (or the same row) as row 2"),
        ("row 9, column period", "is not understood"),
        ("row 10", "this row has 2 cells but the header has 11"),
    ]
    for where, what in expected:
        assert any(line.startswith(where) and what in line for line in errors.splitlines()), (
            where,
            what,
            errors,
        )
    assert "row 2," not in errors  # the good row has no problem
    assert story_count(app) == 0


def test_a_file_that_is_not_utf8_or_lacks_columns_is_refused_with_a_reason(app, admin, tmp_path):
    latin = write_csv(tmp_path / "latin.csv", [row("B-1", "Café à Pantin")], encoding="latin-1")
    result = invoke(app, import_command, str(latin))
    assert result.exit_code == 1 and "not UTF-8 text" in result.stderr
    missing = write_csv(tmp_path / "missing.csv", [["x"]], header=["title"])
    result = invoke(app, import_command, str(missing))
    assert "the required column language is missing" in result.stderr
    assert "the required column licence is missing" in result.stderr
    unknown = write_csv(tmp_path / "unknown.csv", [["x", "fr", "CC0-1.0", "?"]],
                        header=["title", "language", "licence", "colour"])  # fmt: skip
    assert "unknown column colour" in invoke(app, import_command, str(unknown)).stderr
    unclosed = tmp_path / "unclosed.csv"
    unclosed.write_text('title,language,licence\n"Sans fin,fr,CC0-1.0\n', encoding="utf-8")
    assert "unclosed quote" in invoke(app, import_command, str(unclosed)).stderr
    assert story_count(app) == 0


def _zip(path: Path, members: dict[str, bytes], *, symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = 0o120777 << 16
            archive.writestr(info, "/etc/passwd")
    return path


@pytest.mark.parametrize(
    ("members", "symlink", "message"),
    [
        ({"../evil.jpg": b"x"}, None, "unsafe path"),
        ({"/etc/cron.d/evil": b"x"}, None, "unsafe path"),
        ({"C:/evil.jpg": b"x"}, None, "unsafe path"),
        ({"ok.jpg": b"x"}, "link.jpg", "symbolic link"),
        ({"bomb.jpg": b"\0" * (40 * 1024 * 1024)}, None, "decompression bomb"),
    ],
)
def test_hostile_image_zips_are_refused_before_anything_is_read(
    app, admin, tmp_path, members, symlink, message
):
    source = write_csv(tmp_path / "s.csv", [row("C-1", "Récit", "ok.jpg")])
    images = _zip(tmp_path / "images.zip", members, symlink=symlink)
    result = invoke(app, import_command, str(source), "--images", str(images))
    assert result.exit_code == 1
    assert message in result.stderr
    assert story_count(app) == 0


def test_an_image_over_the_upload_limit_is_refused(tmp_path):
    from tests.conftest import _dispose, build_app

    small = build_app(tmp_path / "data", MAX_UPLOAD_MB="1")
    try:
        source = write_csv(tmp_path / "s.csv", [row("C-2", "Récit", "big.jpg|ok.jpg")])
        members = {"big.jpg": os.urandom(1536 * 1024), "ok.jpg": make_jpeg()}
        images = _zip(tmp_path / "images.zip", members)
        result = invoke(small, import_command, str(source), "--images", str(images))
        assert result.exit_code == 1
        assert "row 2, column images: big.jpg is larger than 1 MB" in result.stderr
        assert "ok.jpg" not in result.stderr
        assert story_count(small) == 0
    finally:
        _dispose(small)


def test_import_creates_stories_through_the_pipeline_and_twice_creates_nothing(
    app, admin, tmp_path
):
    from webapp.extensions import db
    from webapp.models import AuditEntry, OutboxEvent, Story

    images = tmp_path / "images"
    images.mkdir()
    photo = make_jpeg(seed=7)
    (images / "a.jpg").write_bytes(photo)
    digest = hashlib.sha256(photo).hexdigest()
    source = write_csv(
        tmp_path / "stories.csv",
        [
            row("D-1", "Le foyer de Montreuil", "a.jpg", image_sha256=digest),
            row("", "Sans identifiant", themes="'=1+1|musique"),
        ],
    )
    result = invoke(app, import_command, str(source), "--images", str(images), "--as", "published")
    assert result.exit_code == 0, result.output
    assert "2 stories created" in result.stdout
    with app.app_context():
        stories = db.session.scalars(db.select(Story).order_by(Story.id)).all()
        assert [s.status for s in stories] == ["published", "published"]
        assert stories[0].places == ["Montreuil", "Bamako"] and stories[0].period == "1975"
        assert stories[0].media[0].sha256 == digest  # stored content-addressed, as uploads are
        assert stories[1].themes == ["=1+1", "musique"]  # the spreadsheet quote is removed
        events = db.session.scalars(db.select(OutboxEvent.event_type)).all()
        assert events.count("story.submitted") == 2 and events.count("story.published") == 2
        imported = db.session.scalars(
            db.select(AuditEntry).where(AuditEntry.action == "story.imported")
        ).all()
        assert sorted(e.details["key"] for e in imported)[0] == "id:D-1"

    again = invoke(app, import_command, str(source), "--images", str(images))
    assert again.exit_code == 0, again.output
    assert "0 stories created, 2 rows already imported" in again.stdout
    assert story_count(app) == 2


def test_organisation_comes_from_the_column_or_from_the_whole_import(app, admin, tmp_path):
    from tests.conftest import in_action
    from webapp.extensions import db
    from webapp.models import Organisation, Story

    with app.app_context():
        for name in ("Association Génériques", "Collège Jean Jaurès"):
            in_action(lambda uow, n=name: uow.add(Organisation(name=n, kind="association")))
    source = write_csv(
        tmp_path / "s.csv",
        [row("G-1", "Par colonne", organisation="association génériques"), row("G-2", "Sans")],
    )
    assert invoke(app, import_command, str(source)).exit_code == 0
    other = write_csv(tmp_path / "t.csv", [row("G-3", "Pour tout l'import")])
    result = invoke(app, import_command, str(other), "--organisation", "college-jean-jaures")
    assert result.exit_code == 0, result.output
    unknown = invoke(app, import_command, str(other), "--organisation", "Nulle part")
    assert unknown.exit_code != 0 and "no organisation named 'Nulle part'" in unknown.output
    with app.app_context():
        stories = db.session.scalars(db.select(Story)).all()
        found = {s.title: s.organisation.name if s.organisation else None for s in stories}
        assert {s.status for s in stories} == {"submitted"}  # the default: for review
    assert found == {
        "Par colonne": "Association Génériques",
        "Sans": None,
        "Pour tout l'import": "Collège Jean Jaurès",
    }


def test_control_characters_in_cells_are_reported_and_nothing_is_written(app, admin, tmp_path):
    source = write_csv(
        tmp_path / "stories.csv",
        [
            row("C-1", "Bon récit", description="Deux lignes\r\net\tune tabulation."),
            row("C-2", "Avec un NUL", description="avant\x00après"),
            row("C-3", "Bip\x07", places="Lyon\x1b|Oran"),
        ],
    )
    dry = invoke(app, import_command, str(source), "--dry-run")
    assert dry.exit_code == 1, dry.output
    lines = dry.stderr.splitlines()
    for where, code in [
        ("row 3, column description", "U+0000"),
        ("row 4, column title", "U+0007"),
        ("row 4, column places", "U+001B"),
    ]:
        assert any(line.startswith(where) and code in line for line in lines), (where, lines)
    assert not any(line.startswith("row 2,") for line in lines)  # tab, CR and LF are text
    real = invoke(app, import_command, str(source), "--as", "published")
    assert real.exit_code == 1
    assert story_count(app) == 0
