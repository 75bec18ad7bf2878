"""``passages backup`` and ``passages restore``: the whole archive in one folder, and back.

A backup is a folder::

    manifest.json       format, date, database kind, settings, every file with its SHA-256,
                        every object (key, SHA-256, size, content type)
    database.sqlite3    SQLite's online backup of a consistent snapshot   (embedded default)
    database.pgdump     ``pg_dump --format=custom`` of one snapshot       (PostgreSQL)
    objects/ab/<sha256> each object's bytes once, named by their SHA-256
    secret_key          the key that signs sessions (mode 0600)
    settings.json       the settings in force, without secrets (for the operator's reference)

It is taken while the site runs. The database is copied first, as one snapshot (SQLite's backup
API, or ``pg_dump``'s single transaction); objects are copied afterwards. Originals are written
before the rows that refer to them commit and are never changed afterwards (their key is their
SHA-256), so every original the snapshot refers to is still in the store when it is copied —
unless it was erased meanwhile, which the manifest records as ``missing``. Objects written after
the snapshot are copied too and become leftovers that the collector removes after a restore.

A restore goes into an *empty* target (no tables in the database, no objects in the store): it
never merges into or overwrites a live archive. The secret key generated for the empty folder is
replaced by the archive's (nothing was signed with it that matters). It checks
every checksum before writing anything, loads the database, brings it to the current schema,
puts the objects back, and rebuilds the search index; the reconciler then re-emits whatever work
was in flight when the backup was taken. This module must never write into a non-empty target
and never print or log a secret.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from storage import ObjectStore
from webapp.config import Settings
from webapp.extensions import db
from webapp.interop import instance
from webapp.services import backends

log = logging.getLogger(__name__)

FORMAT = "passages-backup/1"
CHUNK = 1024 * 1024
#: Settings that are secrets (or contain one) and stay out of ``settings.json``.
SECRET_SETTINGS = {"secret_key", "s3_access_key", "s3_secret_key", "database_url", "extra"}


class BackupError(RuntimeError):
    """The backup or restore cannot go on; the message says why and what to do."""


@dataclass
class BackupReport:
    path: Path
    database: str
    objects: int = 0
    bytes: int = 0
    missing: list[str] = field(default_factory=list)


# --- helpers -------------------------------------------------------------------------------------


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _libpq_url(sqlalchemy_url: str) -> str:
    """``postgresql+psycopg://…`` → ``postgresql://…`` for pg_dump / pg_restore."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _run(command: list[str], what: str) -> None:
    env = dict(os.environ)
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise BackupError(
            f"{what} failed ({command[0]} exit {result.returncode}): "
            f"{result.stderr.strip()[-2000:]}"
        )


def public_settings(settings: Settings) -> dict[str, Any]:
    """The settings in force, without secrets (the database URL carries a password)."""
    values = {
        name: (str(value) if isinstance(value, Path) else value)
        for name, value in vars(settings).items()
        if name not in SECRET_SETTINGS
    }
    url = make_url(settings.database_url)
    values["database"] = url.render_as_string(hide_password=True)
    return values


# --- backup --------------------------------------------------------------------------------------


def backup(out: Path) -> BackupReport:
    """Write a complete backup of the running archive into the new folder ``out``."""
    settings = backends.settings()
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} exists and is not empty; give a new folder")
    out.mkdir(parents=True, exist_ok=True)
    report = BackupReport(path=out, database="sqlite" if settings.uses_sqlite else "postgresql")

    if settings.uses_sqlite:
        db_file = out / "database.sqlite3"
        _sqlite_copy(Path(make_url(settings.database_url).database), db_file)
    else:
        db_file = out / "database.pgdump"
        _run(
            [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                "--file",
                str(db_file),
                "--dbname",
                _libpq_url(settings.database_url),
            ],
            "pg_dump",
        )

    store = backends.object_store()
    objects = _copy_objects(store, out / "objects", report)
    report.missing = _missing_from(db_file, report.database, {o["key"] for o in objects})

    secret = out / "secret_key"
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(settings.resolved_secret_key())
    (out / "settings.json").write_text(
        json.dumps(public_settings(settings), indent=2, sort_keys=True, default=str)
    )
    # The installation's identity: exports carry it, and a restored site must recognise its own.
    (out / "instance_id").write_text(instance.instance_id())
    files = {
        name: _sha256_file(out / name)
        for name in (db_file.name, "secret_key", "settings.json", "instance_id")
    }
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "database": {"kind": report.database, "file": db_file.name},
        "files": files,
        "objects": objects,
        "missing": report.missing,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    log.info("backup written to %s: %d object(s), %d byte(s)", out, report.objects, report.bytes)
    return report


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy while other connections write."""
    if not source.exists():
        raise BackupError(f"no database at {source}")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst, pages=1024)
    finally:
        dst.close()
        src.close()


def _copy_objects(store: ObjectStore, folder: Path, report: BackupReport) -> list[dict[str, Any]]:
    folder.mkdir(exist_ok=True)
    objects = []
    for info in store.list(""):
        digest = hashlib.sha256()
        tmp = folder / ".incoming"
        try:
            with store.open(info.key) as stream, open(tmp, "wb") as handle:
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
                    handle.write(chunk)
        except FileNotFoundError:
            continue  # deleted while we were listing (an erasure): not in the snapshot's future
        sha = digest.hexdigest()
        target = folder / sha[:2] / sha
        target.parent.mkdir(exist_ok=True)
        os.replace(tmp, target)
        size = target.stat().st_size
        objects.append(
            {"key": info.key, "sha256": sha, "size": size, "content_type": info.content_type}
        )
        report.objects += 1
        report.bytes += size
    return objects


def _missing_from(db_file: Path, kind: str, copied: set[str]) -> list[str]:
    """Originals the backed-up database refers to that the store no longer had."""
    if kind == "sqlite":
        conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
        try:
            keys = {row[0] for row in conn.execute("SELECT original_key FROM media_assets")}
        finally:
            conn.close()
    else:
        keys = set(db.session.scalars(db.text("SELECT original_key FROM media_assets")))
    return sorted(keys - copied)


# --- restore -------------------------------------------------------------------------------------


@dataclass
class RestoreReport:
    database: str
    objects: int
    stories: int
    warnings: list[str] = field(default_factory=list)


def read_manifest(path: Path) -> dict[str, Any]:
    """Load the manifest and verify every file and object against its SHA-256."""
    path = Path(path)
    try:
        manifest = json.loads((path / "manifest.json").read_text())
    except FileNotFoundError as exc:
        raise BackupError(f"{path} is not a Passages backup (no manifest.json)") from exc
    except ValueError as exc:
        raise BackupError(f"{path}/manifest.json is not valid JSON: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}; expected {FORMAT}")
    for name, expected in manifest["files"].items():
        file = path / name
        if not file.exists() or _sha256_file(file) != expected:
            raise BackupError(f"{file} is missing or damaged (checksum differs); nothing restored")
    seen: set[str] = set()
    for entry in manifest["objects"]:
        sha = entry["sha256"]
        if sha in seen:
            continue
        file = path / "objects" / sha[:2] / sha
        if not file.exists() or _sha256_file(file) != sha:
            raise BackupError(
                f"object {entry['key']} ({file}) is missing or damaged; nothing restored"
            )
        seen.add(sha)
    return manifest


def _ensure_empty_target(settings: Settings, store: ObjectStore) -> None:
    problems = []
    if settings.uses_sqlite:
        db_path = Path(make_url(settings.database_url).database)
        if db_path.exists() and db_path.stat().st_size > 0:
            conn = sqlite3.connect(db_path)
            try:
                query = "SELECT name FROM sqlite_master WHERE type='table'"
                tables = conn.execute(query).fetchall()
            finally:
                conn.close()
            if tables:
                problems.append(f"the database {db_path} already has tables")
    else:
        tables = inspect(db.engine).get_table_names()
        if tables:
            problems.append(f"the database already has {len(tables)} table(s)")
    if next(iter(store.list("")), None) is not None:
        problems.append(f"the object store {store!r} is not empty")
    if problems:
        raise BackupError(
            "restore needs an empty target, and "
            + "; ".join(problems)
            + ". Restore into a new data folder (or an empty database and bucket)."
        )


def restore(path: Path) -> RestoreReport:
    """Restore the backup in ``path`` into the (empty) configured database and store."""
    from flask import current_app
    from flask_migrate import upgrade

    settings = backends.settings()
    path = Path(path)
    manifest = read_manifest(path)
    store = backends.object_store()
    _ensure_empty_target(settings, store)
    kind = manifest["database"]["kind"]
    expected = "sqlite" if settings.uses_sqlite else "postgresql"
    if kind != expected:
        raise BackupError(
            f"the backup holds a {kind} database but DATABASE_URL points at {expected}; "
            "restore into the same kind of database"
        )
    report = RestoreReport(database=kind, objects=0, stories=0)
    db_file = path / manifest["database"]["file"]

    db.session.remove()
    db.engine.dispose()
    if kind == "sqlite":
        target = Path(make_url(settings.database_url).database)
        target.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            target.unlink()  # an empty file (checked above)
        _sqlite_copy(db_file, target)
    else:
        _run(
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--dbname",
                _libpq_url(settings.database_url),
                str(db_file),
            ],
            "pg_restore",
        )
    upgrade(directory=str(current_app.extensions["migrate"].directory), revision="heads")

    for entry in manifest["objects"]:
        file = path / "objects" / entry["sha256"][:2] / entry["sha256"]
        with open(file, "rb") as handle:
            store.put(
                entry["key"], handle, content_type=entry["content_type"], length=entry["size"]
            )
        report.objects += 1
    if not settings.secret_key:
        # The app generated a key for this empty folder when it started; nothing signed with it
        # matters (there were no accounts), so the archive's own key replaces it.
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        incoming = settings.data_dir / "secret_key.restoring"
        fd = os.open(incoming, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write((path / "secret_key").read_text().strip())
        os.replace(incoming, settings.data_dir / "secret_key")
    elif settings.secret_key != (path / "secret_key").read_text().strip():
        report.warnings.append(
            "SECRET_KEY in the environment differs from the backed-up one: sessions signed "
            "before the backup are no longer valid (set SECRET_KEY to the key in the backup's "
            "secret_key file to keep them)"
        )
    if "instance_id" in manifest["files"]:  # backups made before exports carried it have none
        incoming = settings.data_dir / "instance_id.restoring"
        incoming.write_text((path / "instance_id").read_text().strip())
        os.replace(incoming, settings.data_dir / "instance_id")
    for key in manifest.get("missing", []):
        report.warnings.append(f"{key} was missing when the backup was taken")
    from webapp.models import Story

    report.stories = db.session.scalar(db.select(db.func.count(Story.id))) or 0
    return report
