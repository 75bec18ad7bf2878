"""Bulk import: read ``stories.csv`` (the export's columns) and its images, check every row, then
create the stories one row at a time.

Sources: a CSV file with an optional images folder or zip, or a bag made by ``passages export``
(a zip or a folder) as it is. Checking reads the whole source and reports **every** problem (row
number, column, a specific message) without writing anything; importing is refused while the
check finds any. Each imported row is its own unit of work: the story through the submission
service (images checked by content, stored content-addressed, derivatives and the index made by
the workers from the ``story.submitted`` event), optionally the archivist's approval and
publication through the review workflow, the row's ``import_key`` and an audit entry. A row
whose key is already stored is skipped, so importing the same file again creates nothing and
a run killed half-way resumes where it stopped.

Hostile input is refused before anything is read into the archive: zip members with absolute
paths, ``..``, links, or sizes beyond the limits; text that is not UTF-8; missing or unknown
columns; rows whose number of cells differs from the header. Messages are English message ids
with parameters (``Problem``), translated where they are shown.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from schemas import validate_story_metadata
from webapp import licences, reasons
from webapp.errors import PassagesError
from webapp.extensions import db
from webapp.interop import bagit_export, columns, instance
from webapp.media.imaging import ImageRejected, inspect_image
from webapp.models import Organisation, Story, User
from webapp.periods import parse_period
from webapp.services import audit, backends, review, submissions
from webapp.slugs import slugify
from webapp.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


def N_(message: str) -> str:
    """Mark a message id for translation where it is shown (``pybabel extract`` finds it)."""
    return message


#: A CSV larger than this is refused (a spreadsheet of stories is a few megabytes).
MAX_CSV_BYTES = 200 * 1024 * 1024
#: Everything an uploaded zip may unpack to, and the ratio that marks a decompression bomb.
MAX_ZIP_TOTAL_BYTES = 50 * 1024**3
MAX_COMPRESSION_RATIO = 100
#: Only the start of a bag's ``bag-info.txt`` is read (a few short fields).
MAX_BAG_INFO_BYTES = 64 * 1024
#: C0 control characters other than tab, newline and carriage return: no text holds them, and
#: PostgreSQL refuses NUL in text, so a row with one would fail half-way through an import.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
SPOOL_IN_MEMORY = 1024 * 1024
IMPORT_STATUSES = ("submitted", "published")
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class Problem:
    """One thing wrong: ``row`` is the spreadsheet's row number (the header is row 1; 0 = the
    whole file), ``message`` an English message id formatted with ``params``."""

    row: int
    column: str
    message: str
    params: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """The message in English (the command line, logs)."""
        return self.message % self.params if self.params else self.message

    def as_json(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message,
                "params": self.params}  # fmt: skip


class SourceRejected(PassagesError):
    """The source cannot be read at all (unsafe zip, not a bag, unreadable file)."""

    status = 422
    code = "import_rejected"

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems[0].text())
        self.problems = problems


# --- sources ----------------------------------------------------------------------------------


class ImageFiles:
    """Where a row's image file names are looked up: a folder, a zip folder, or nothing."""

    def open(self, name: str) -> BinaryIO:
        raise FileNotFoundError(name)

    def close(self) -> None:
        """Release open files (zips)."""


class FolderImages(ImageFiles):
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def open(self, name: str) -> BinaryIO:
        path = (self.root / safe_member_name(name)).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            raise FileNotFoundError(name)
        return path.open("rb")


class ZipImages(ImageFiles):
    """Image files inside a zip (checked by :func:`open_checked_zip`), under ``prefix``."""

    def __init__(self, archive: zipfile.ZipFile, prefix: str = "") -> None:
        self.archive = archive
        self.prefix = prefix
        self.members = {info.filename: info for info in archive.infolist() if not info.is_dir()}

    def open(self, name: str) -> BinaryIO:
        info = self.members.get(self.prefix + safe_member_name(name))
        if info is None:
            raise FileNotFoundError(name)
        return _spooled(self.archive.open(info), limit=backends.settings().max_upload_bytes)

    def close(self) -> None:
        self.archive.close()


@dataclass
class Source:
    """A CSV to read and where its images are."""

    name: str
    csv_opener: Any  # () -> binary stream
    images: ImageFiles
    #: The installation that wrote the bag (``bag-info.txt``), ``None`` for a CSV or older bag.
    bag_instance: str | None = None

    def open_csv(self) -> BinaryIO:
        return self.csv_opener()

    def close(self) -> None:
        self.images.close()


def safe_member_name(name: str) -> str:
    """A relative POSIX path with no ``..``, no absolute start, no drive; else ``ValueError``."""
    if not name or "\\" in name or "\x00" in name or name.startswith("/") or _DRIVE.match(name):
        raise ValueError(name)
    parts = PurePosixPath(name).parts
    if any(part in ("..", "") for part in parts):
        raise ValueError(name)
    return str(PurePosixPath(*parts))


def open_checked_zip(path: Path) -> zipfile.ZipFile:
    """Open an uploaded zip after checking every member; refuse the whole archive otherwise."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceRejected(
            [Problem(0, "", N_("%(name)s is not a readable zip archive"), {"name": path.name})]
        ) from exc
    problems: list[Problem] = []
    total = 0
    limit = max(backends.settings().max_upload_bytes, MAX_CSV_BYTES)
    for info in archive.infolist():
        name = info.filename
        kind = (info.external_attr >> 16) & 0o170000
        try:
            safe_member_name(name.rstrip("/") if info.is_dir() else name)
        except ValueError:
            problems.append(Problem(0, "", N_(
                "the archive holds an unsafe path (absolute, with '..' or a drive): %(name)s"),
                {"name": name}))  # fmt: skip
            continue
        if kind == 0o120000:
            problems.append(
                Problem(0, "", N_("the archive holds a symbolic link: %(name)s"), {"name": name})
            )
        total += info.file_size
        if info.file_size > limit:
            problems.append(Problem(0, "", N_(
                "%(name)s is too large once unpacked: %(size)s MB, the limit is %(limit)s MB"),
                {"name": name, "size": info.file_size // 1048576,
                 "limit": limit // 1048576}))  # fmt: skip
        elif (
            info.compress_size
            and info.file_size > 10 * 1048576
            and info.file_size / info.compress_size > MAX_COMPRESSION_RATIO
        ):
            problems.append(Problem(0, "", N_(
                "%(name)s unpacks to %(ratio)s times its packed size: refused as a "
                "decompression bomb"),
                {"name": name, "ratio": info.file_size // info.compress_size}))  # fmt: skip
    if total > MAX_ZIP_TOTAL_BYTES:
        problems.append(Problem(0, "", N_("the archive unpacks to more than %(limit)s GB"),
                                {"limit": MAX_ZIP_TOTAL_BYTES // 1024**3}))  # fmt: skip
    if problems:
        archive.close()
        raise SourceRejected(problems)
    return archive


def _spooled(stream: BinaryIO, *, limit: int) -> BinaryIO:
    """A seekable copy of ``stream`` (memory, then disk), at most ``limit`` + 1 bytes."""
    copy = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - returned open
    with stream:
        copied = 0
        while chunk := stream.read(1024 * 1024):
            copy.write(chunk)
            copied += len(chunk)
            if copied > limit:
                break
    copy.seek(0)
    return copy  # type: ignore[return-value]


def _bag_root(names: list[str]) -> str | None:
    """The folder (``""`` or ``"<name>/"``) of the bag inside a zip, or ``None``."""
    for name in names:
        if name == "bagit.txt" or (name.count("/") == 1 and name.endswith("/bagit.txt")):
            return name.removesuffix("bagit.txt")
    return None


def open_source(path: Path, images: Path | None = None) -> Source:
    """The source a person named: a bag (zip or folder), or a CSV with its images."""
    if not path.exists():
        raise SourceRejected([Problem(0, "", N_("no such file: %(name)s"), {"name": str(path)})])
    if path.is_dir():
        csv_path = path / "data" / "stories.csv"
        if not (path / "bagit.txt").is_file() or not csv_path.is_file():
            raise SourceRejected([Problem(0, "", N_(
                "%(name)s is a folder but not a bag made by passages export "
                "(bagit.txt and data/stories.csv)"), {"name": path.name})])  # fmt: skip
        info = path / "bag-info.txt"
        bag_instance = (
            instance.from_bag_info(info.read_bytes()[:MAX_BAG_INFO_BYTES].decode(errors="replace"))
            if info.is_file()
            else None
        )
        return Source(
            path.name, lambda: csv_path.open("rb"), FolderImages(path / "data"), bag_instance
        )
    if zipfile.is_zipfile(path):
        archive = open_checked_zip(path)
        names = [i.filename for i in archive.infolist()]
        root = _bag_root(names)
        if root is None or f"{root}data/stories.csv" not in names:
            archive.close()
            raise SourceRejected([Problem(0, "", N_(
                "%(name)s is a zip but not a bag made by passages export "
                "(bagit.txt and data/stories.csv); send the CSV itself, with the images "
                "zip beside it"), {"name": path.name})])  # fmt: skip
        member = f"{root}data/stories.csv"
        bag_instance = None
        if f"{root}bag-info.txt" in names:
            with archive.open(f"{root}bag-info.txt") as info:
                text = info.read(MAX_BAG_INFO_BYTES).decode(errors="replace")
            bag_instance = instance.from_bag_info(text)
        return Source(
            path.name,
            lambda: _spooled(archive.open(member), limit=MAX_CSV_BYTES),
            ZipImages(archive, f"{root}data/"),
            bag_instance,
        )
    if images is None:
        image_files: ImageFiles = ImageFiles()
    elif images.is_dir():
        image_files = FolderImages(images)
    else:
        image_files = ZipImages(open_checked_zip(images))
    return Source(path.name, lambda: path.open("rb"), image_files)


# --- reading the table ------------------------------------------------------------------------


@dataclass
class PlannedRow:
    """One row, checked: what the import will create."""

    row: int
    key: str
    metadata: dict[str, Any]
    image_names: list[str]
    image_sha256: list[str]
    organisation_id: int | None
    published_at: datetime | None


@dataclass
class CheckReport:
    rows: int = 0
    already_imported: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _records(source: Source, report: CheckReport) -> Iterator[tuple[int, dict[str, str]]]:
    """``(row number, {column: cell})`` for each data row; file-level problems go to ``report``
    (and stop the reading when the rest cannot be trusted)."""
    with source.open_csv() as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline="")
        reader = csv.reader(text, strict=True)
        number = 1
        try:
            header = next(reader, None)
            if header is None:
                report.problems.append(Problem(0, "", N_("the file is empty: no header row")))
                return
            header = [h.strip() for h in header]
            if not _header_ok(header, report):
                return
            for cells in reader:
                number += 1
                if not any(c.strip() for c in cells):
                    continue  # a blank line (spreadsheets leave them at the end)
                if len(cells) != len(header):
                    report.problems.append(Problem(number, "", N_(
                        "this row has %(found)s cells but the header has %(expected)s "
                        "(a missing or extra separator, or an unclosed quote)"),
                        {"found": len(cells), "expected": len(header)}))  # fmt: skip
                    continue
                yield number, dict(zip(header, cells, strict=True))
        except UnicodeDecodeError:
            report.problems.append(Problem(number + 1, "", N_(
                "the file is not UTF-8 text (row %(row)s): save it as \"CSV UTF-8\" in your "
                "spreadsheet"), {"row": number + 1}))  # fmt: skip
        except csv.Error as exc:
            report.problems.append(Problem(number + 1, "", N_(
                "the CSV cannot be read from here: %(detail)s (often an unclosed quote)"),
                {"detail": str(exc)}))  # fmt: skip


def _header_ok(header: list[str], report: CheckReport) -> bool:
    ok = True
    seen: set[str] = set()
    for name in header:
        if name in seen:
            report.problems.append(Problem(1, name, N_("the column %(name)s appears twice"),
                                           {"name": name}))  # fmt: skip
            ok = False
        seen.add(name)
        if name not in columns.COLUMN_NAMES:
            report.problems.append(Problem(1, name, N_(
                "unknown column %(name)s (the columns are: %(known)s)"),
                {"name": name, "known": ", ".join(columns.COLUMN_NAMES)}))  # fmt: skip
            ok = False
    for name in columns.REQUIRED:
        if name not in seen:
            report.problems.append(Problem(1, name, N_("the required column %(name)s is missing"),
                                           {"name": name}))  # fmt: skip
            ok = False
    return ok


def row_key(cells: dict[str, str]) -> str:
    """The row's stable import key: its identifier, else a hash of its content."""
    identifier = columns.restore(cells.get("identifier", "")).strip()
    if identifier:
        if len(identifier) <= 200:
            return "id:" + identifier
        return "id-sha256:" + hashlib.sha256(identifier.encode()).hexdigest()
    content = json.dumps(sorted(cells.items()), ensure_ascii=False)
    return "row-sha256:" + hashlib.sha256(content.encode()).hexdigest()


def _plan_row(
    number: int,
    cells: dict[str, str],
    organisation_id: int | None,
    organisations: dict[str, int],
    problems: list[Problem],
) -> PlannedRow:
    values = {name: columns.read_cell(name, cell) for name, cell in cells.items()}

    def text(name: str) -> str:
        value = values.get(name, "")
        return value if isinstance(value, str) else ""

    def several(name: str) -> list[str]:
        value = values.get(name, [])
        return value if isinstance(value, list) else []

    def problem(column: str, message: str, **params: Any) -> None:
        problems.append(Problem(number, column, message, params))

    if not text("title"):
        problem("title", N_("the title is empty"))
    elif len(text("title")) > 300:
        problem("title", N_("the title is longer than %(limit)s characters"), limit=300)
    licence = text("licence")
    if licence not in licences.CODES:
        problem("licence", N_("unknown licence %(value)r: use one of %(known)s"),
                value=licence, known=", ".join(licences.CODES))  # fmt: skip
    if text("period"):
        try:
            parse_period(text("period"))
        except ValueError as exc:
            problem("period", N_("the period %(value)r is not understood: %(detail)s"),
                    value=text("period"), detail=str(exc))  # fmt: skip
    metadata: dict[str, Any] = {
        "title": text("title"),
        "body": text("description"),
        "language": text("language"),
        "places": several("places"),
        "themes": several("themes"),
        "licence": licence,
        "consent": {"contributor": True},
    }
    for name in ("period", "credit", "contributor_name", "summary"):
        if text(name):
            metadata[name] = text(name)
    if several("alt_texts"):
        metadata["alt_texts"] = several("alt_texts")
    kind = text("kind") or "story"
    source_keys = ("institution", "reference", "fonds", "producer")
    source = {key: text(f"source_{key}") for key in source_keys if text(f"source_{key}")}
    if kind == "document":
        metadata["kind"] = kind
        metadata["source"] = source
        for key in ("institution", "reference"):
            if key not in source:
                problem(f"source_{key}", N_("an archive document needs its %(name)s"),
                        name=f"source_{key}")  # fmt: skip
    elif kind != "story":
        problem("kind", N_("unknown kind %(value)r: use story or document"), value=kind)
    elif source:
        message = N_("the source columns are only for archive documents (kind: document)")
        problem(next(f"source_{key}" for key in source), message)
    for error in validate_story_metadata(metadata):
        column = _COLUMN_OF_FIELD.get(error.field.split("/")[0], error.field.split("/")[0])
        if (
            column in ("title", "licence", "period")
            or column.startswith("source")
            or (error.field == "")
        ):
            continue  # said above in plainer words
        if column == "language":
            problem("language", N_("%(value)r is not a language tag (fr, ar, zh-Hant…)"),
                    value=text("language"))  # fmt: skip
            continue
        problem(column, N_("%(detail)s"), detail=error.message)
    org = organisation_id
    if org is None and text("organisation"):
        name = text("organisation")
        org = organisations.get(name.casefold()) or organisations.get(slugify(name))
        if org is None:
            problem("organisation", N_(
                "no organisation named %(value)r here: create it first (admin pages), or choose "
                "the organisation for the whole import"), value=name)  # fmt: skip
    published_at = None
    if text("date_published"):
        try:
            published_at = datetime.fromisoformat(text("date_published").replace("Z", "+00:00"))
            if published_at.tzinfo is None:
                published_at = published_at.replace(tzinfo=UTC)
        except ValueError:
            problem("date_published", N_("%(value)r is not a date (2024-05-31 or "
                    "2024-05-31T14:00:00Z)"), value=text("date_published"))  # fmt: skip
    names = several("images")
    digests = [d.lower() for d in several("image_sha256")]
    if digests and len(digests) != len(names):
        problem("image_sha256", N_("%(found)s checksums for %(expected)s images"),
                found=len(digests), expected=len(names))  # fmt: skip
    if len(names) > backends.settings().max_images:
        problem("images", N_("%(found)s images, at most %(limit)s per story"),
                found=len(names), limit=backends.settings().max_images)  # fmt: skip
    return PlannedRow(number, row_key(cells), metadata, names, digests, org, published_at)


_COLUMN_OF_FIELD = {"body": "description"}


def _check_images(planned: PlannedRow, images: ImageFiles, problems: list[Problem]) -> None:
    """Each image exists, is within the size limit, is an image by content, matches its hash."""
    settings = backends.settings()
    for index, name in enumerate(planned.image_names):
        try:
            safe_member_name(name)
            stream = images.open(name)
        except ValueError:
            problems.append(
                Problem(
                    planned.row,
                    "images",
                    N_("unsafe image path %(name)s (absolute or with '..')"),
                    {"name": name},
                )
            )
            continue
        except FileNotFoundError:
            problems.append(Problem(planned.row, "images", N_("image file not found: %(name)s"),
                                    {"name": name}))  # fmt: skip
            continue
        with stream:
            digest, size = _hash_and_size(stream)
            if size > settings.max_upload_bytes:
                problems.append(Problem(planned.row, "images", N_(
                    "%(name)s is larger than %(limit)s MB"),
                    {"name": name, "limit": settings.max_upload_mb}))  # fmt: skip
                continue
            try:
                stream.seek(0)
                inspect_image(stream, max_pixels=settings.max_image_pixels)
            except ImageRejected as exc:
                problems.append(Problem(planned.row, "images", N_("%(name)s: %(reason)s"),
                                        {"name": name, "reason": reasons.of(exc)}))  # fmt: skip
                continue
        if index < len(planned.image_sha256) and planned.image_sha256[index] != digest:
            problems.append(Problem(planned.row, "image_sha256", N_(
                "%(name)s does not match its SHA-256 (damaged or replaced file)"),
                {"name": name}))  # fmt: skip


def _hash_and_size(stream: BinaryIO) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(1024 * 1024):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _organisations() -> dict[str, int]:
    found: dict[str, int] = {}
    for org_id, name in db.session.execute(db.select(Organisation.id, Organisation.name)):
        found[name.casefold()] = org_id
        found.setdefault(slugify(name), org_id)
    return found


def planned_rows(
    source: Source, report: CheckReport, organisation_id: int | None = None
) -> Iterator[PlannedRow]:
    """Every row, checked (problems go to ``report``); rows with problems are not yielded."""
    organisations = _organisations()
    first_row_of: dict[str, int] = {}
    for number, cells in _records(source, report):
        report.rows += 1
        problems: list[Problem] = []
        for column, cell in cells.items():
            if found := _CONTROL_CHARACTER.search(cell):
                problems.append(Problem(number, column, N_(
                    "this cell holds a control character (U+%(code)s), which no text may "
                    "contain: remove it"), {"code": f"{ord(found.group()):04X}"}))  # fmt: skip
        planned = _plan_row(number, cells, organisation_id, organisations, problems)
        if planned.key in first_row_of:
            problems.append(Problem(number, "identifier", N_(
                "the same identifier (or the same row) as row %(first)s"),
                {"first": first_row_of[planned.key]}))  # fmt: skip
        else:
            first_row_of[planned.key] = number
        _check_images(planned, source.images, problems)
        report.problems.extend(problems)
        if not problems:
            yield planned


def imported_story_id(key: str, bag_instance: str | None = None) -> int | None:
    """The story a row already made (its key is stored) — or, for a row exported from this very
    site, the story it was exported from (even if withdrawn since: importing a site's own export
    must neither duplicate a story nor bring back one taken down). ``bag_instance`` is the
    installation that wrote the bag (:attr:`Source.bag_instance`)."""
    found = db.session.scalar(db.select(Story.id).where(Story.import_key == key))
    if found is None and key.startswith("id:"):
        own = bagit_export.own_story_id(key.removeprefix("id:"), bag_instance)
        if own is not None:
            found = db.session.scalar(db.select(Story.id).where(Story.id == own))
    return found


def check(source: Source, organisation_id: int | None = None) -> CheckReport:
    """Read every row and report every problem; write nothing."""
    report = CheckReport()
    for planned in planned_rows(source, report, organisation_id):
        if imported_story_id(planned.key, source.bag_instance) is not None:
            report.already_imported += 1
    return report


# --- importing one row ------------------------------------------------------------------------


def import_row(
    uow: UnitOfWork, planned: PlannedRow, images: ImageFiles, actor: User, as_status: str,
    import_id: int | None = None,
) -> Story:  # fmt: skip
    """Create one row's story in ``uow``: the submission service (images checked and stored,
    ``story.submitted`` for derivatives and the index), then — for ``published`` — the
    archivist's approval and publication, the import key and an audit entry."""
    streams = [images.open(name) for name in planned.image_names]
    try:
        incoming = [
            submissions.IncomingImage(filename=PurePosixPath(name).name, stream=stream)
            for name, stream in zip(planned.image_names, streams, strict=True)
        ]
        story = submissions.submit_story(uow, planned.metadata, incoming, submitter=actor)
    finally:
        for stream in streams:
            stream.close()
    story.import_key = planned.key
    if planned.organisation_id is not None:
        story.organisation_id = planned.organisation_id
    uow.flush()  # the unique import key: a concurrent run's row fails here, before anything else
    if as_status == "published":
        review.review(uow, story.id, "approve", None, actor)
        if story.is_public and planned.published_at is not None:
            story.published_at = planned.published_at
    audit.record(
        "story.imported",
        "story",
        story.id,
        actor=actor,
        details={"import_id": import_id, "row": planned.row, "key": planned.key,
                 "as": as_status},
    )  # fmt: skip
    return story
