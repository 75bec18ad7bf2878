"""Exports and bulk imports as archivists ask for them: the rules, the rows, the events.

A request is a row (``ExportRun``, ``ImportRun``) and an outbox event in the caller's unit of
work; the job (``workers.transfers``) does the work from the row's id, so a broker outage delays
an export but never loses it, and a retried job finds where it stands. Archivists may export and
import; only admins may export originals (the bag then holds files that are never public) and
download such an export. Files live in the data folder: ``exports/`` (pruned after
``PASSAGES_KEEP_EXPORTS_DAYS`` by ``workers.maintenance.prune``) and ``imports/<folder>/``.
This module never commits, never runs the work itself and never serves a file that is not a
finished export.
"""

from __future__ import annotations

import secrets
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask_babel import gettext

from webapp.errors import BadRequest, Forbidden, NotFound
from webapp.extensions import db
from webapp.interop.csv_import import IMPORT_STATUSES
from webapp.models import Collection, ExportRun, ImportRun, Organisation, Role, User
from webapp.services import access, audit, backends, outbox
from webapp.unit_of_work import UnitOfWork

#: States in which an import may be started (again): checked, or stopped half-way.
STARTABLE = frozenset({"checked", "importing", "failed"})


def exports_folder() -> Path:
    return backends.settings().data_dir / "exports"


def imports_folder() -> Path:
    return backends.settings().data_dir / "imports"


# --- exports ----------------------------------------------------------------------------------


def may_export_originals(actor: User | None) -> bool:
    """Originals are never public: only administrators may put them in a bag."""
    return actor is not None and actor.has_role(Role.ADMIN)


def request_export(
    uow: UnitOfWork, actor: User | None, collection_slug: str | None, originals: bool
) -> ExportRun:
    """Record the request and its ``export.requested`` event; the job builds the bag."""
    actor = access.require_archivist(actor)
    if originals and not may_export_originals(actor):
        raise Forbidden(gettext("only administrators can export the originals"))
    slug = (collection_slug or "").strip() or None
    if slug and db.session.scalar(db.select(Collection.id).where(Collection.slug == slug)) is None:
        raise BadRequest(
            gettext("no collection with the short name “%(slug)s”", slug=slug), field="collection"
        )
    run = uow.add(ExportRun(requested_by_id=actor.id, collection_slug=slug, originals=originals))
    uow.flush()
    outbox.emit("export.requested", {"export_id": run.id})
    audit.record(
        "export.requested",
        "export",
        run.id,
        actor=actor,
        details={"collection": slug, "originals": originals},
    )
    return run


def recent_exports(limit: int = 20) -> list[ExportRun]:
    return list(db.session.scalars(db.select(ExportRun).order_by(ExportRun.id.desc()).limit(limit)))


def get_export(export_id: int, actor: User | None) -> ExportRun:
    access.require_archivist(actor)
    run = db.session.get(ExportRun, export_id)
    if run is None:
        raise NotFound(gettext("no such export"))
    return run


def export_file(export_id: int, actor: User | None) -> Path:
    """The finished bag's path, for whoever may download it (originals: admins only)."""
    run = get_export(export_id, actor)
    if run.originals and not may_export_originals(actor):
        raise Forbidden(gettext("only administrators can download an export of the originals"))
    if run.state != "ready" or not run.file_name:
        raise NotFound(gettext("this export is not ready"))
    path = exports_folder() / run.file_name
    if not path.is_file():
        raise NotFound(
            gettext("this export has been deleted (exports are kept for a limited time)")
        )
    return path


def export_file_name(run: ExportRun) -> str:
    """Deterministic per run: a retried job rewrites the same file."""
    scope = f"-{run.collection_slug}" if run.collection_slug else ""
    kind = "-originals" if run.originals else ""
    stamp = run.created_at.strftime("%Y%m%dT%H%M%SZ")
    return f"passages-export-{run.id}{scope}{kind}-{stamp}.zip"


# --- imports ----------------------------------------------------------------------------------


@dataclass
class UploadedFile:
    filename: str
    stream: BinaryIO


def _save(upload: UploadedFile, path: Path) -> None:
    with path.open("wb") as out:
        shutil.copyfileobj(upload.stream, out, 1024 * 1024)


def stage_import(
    uow: UnitOfWork,
    actor: User | None,
    table: UploadedFile | None,
    images: UploadedFile | None,
    as_status: str,
    organisation_id: int | None,
) -> ImportRun:
    """Keep the uploaded files under ``imports/`` and ask for the check (nothing imported yet).

    ``table`` is a CSV or a bag (zip) made by ``passages export``; ``images`` an optional zip of
    the CSV's images.
    """
    actor = access.require_archivist(actor)
    if table is None or not table.filename:
        raise BadRequest(gettext("choose a CSV file or an exported bag (.zip)"), field="table")
    if as_status not in IMPORT_STATUSES:
        raise BadRequest(gettext("import as submitted or as published"), field="as_status")
    if organisation_id is not None and db.session.get(Organisation, organisation_id) is None:
        raise BadRequest(gettext("no such organisation"), field="organisation")
    folder_name = secrets.token_hex(12)
    folder = imports_folder() / folder_name
    folder.mkdir(parents=True)
    uow.on_rollback(lambda: shutil.rmtree(folder, ignore_errors=True))
    staged = folder / "source.upload"
    _save(table, staged)
    source = folder / ("source.zip" if zipfile.is_zipfile(staged) else "source.csv")
    staged.rename(source)
    images_name = None
    if images is not None and images.filename:
        _save(images, folder / "images.zip")
        if not zipfile.is_zipfile(folder / "images.zip"):
            raise BadRequest(gettext("the images must be sent as one .zip file"), field="images")
        images_name = images.filename[:255]
    run = uow.add(
        ImportRun(
            requested_by_id=actor.id,
            folder=folder_name,
            source_name=(table.filename or "")[:255],
            images_name=images_name,
            as_status=as_status,
            organisation_id=organisation_id,
            state="checking",
        )
    )
    uow.flush()
    outbox.emit("import.requested", {"import_id": run.id, "step": "check"})
    audit.record("import.uploaded", "import", run.id, actor=actor,
                 details={"file": run.source_name, "as": as_status})  # fmt: skip
    return run


def staged_paths(run: ImportRun) -> tuple[Path, Path | None]:
    """(the CSV or bag, the images zip or ``None``) of a staged import."""
    folder = imports_folder() / run.folder
    source = folder / "source.zip"
    if not source.exists():
        source = folder / "source.csv"
    images = folder / "images.zip"
    return source, images if images.exists() else None


def start_import(uow: UnitOfWork, actor: User | None, import_id: int) -> ImportRun:
    """Confirm a checked import (or resume one that stopped): the job creates the stories."""
    actor = access.require_archivist(actor)
    run = db.session.get(ImportRun, import_id, with_for_update=True)
    if run is None:
        raise NotFound(gettext("no such import"))
    if run.state not in STARTABLE:
        raise BadRequest(
            gettext("this import cannot start now: it must be checked without errors first"),
            field="import",
        )
    run.state = "importing"
    run.error = None
    outbox.emit("import.requested", {"import_id": run.id, "step": "import"})
    audit.record("import.started", "import", run.id, actor=actor)
    return run


def recent_imports(limit: int = 20) -> list[ImportRun]:
    return list(db.session.scalars(db.select(ImportRun).order_by(ImportRun.id.desc()).limit(limit)))


def get_import(import_id: int, actor: User | None) -> ImportRun:
    access.require_archivist(actor)
    run = db.session.get(ImportRun, import_id)
    if run is None:
        raise NotFound(gettext("no such import"))
    return run


def organisation_named(name: str) -> Organisation | None:
    """The organisation with this name or the slug of its name (``passages import``)."""
    from webapp.slugs import slugify

    for organisation in organisations():
        if name in (organisation.name, slugify(organisation.name)):
            return organisation
    return None


def importing_person(email: str | None) -> User | None:
    """Who a command-line import is recorded for: the active staff member with this e-mail,
    else the first active admin; ``None`` when there is no such person."""
    query = db.select(User).where(User.active.is_(True))
    if email:
        person = db.session.scalar(query.where(User.email == email.strip().lower()))
    else:
        person = db.session.scalar(query.where(User.role == Role.ADMIN.value).order_by(User.id))
    return person if person is not None and person.is_staff else None


def organisations() -> list[Organisation]:
    return list(db.session.scalars(db.select(Organisation).order_by(Organisation.name)))
