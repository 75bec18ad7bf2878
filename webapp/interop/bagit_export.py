"""Write the published archive as a BagIt bag (RFC 8493), zipped, streaming.

The bag outlives Passages: ``data/stories.csv`` (one row per published story, the columns of
:mod:`webapp.interop.columns`, UTF-8 with a BOM so spreadsheets open it), ``data/stories/<id>.json``
(the story as the public API document gives it), ``data/images/<id>/<n>.<ext>`` (the largest
public derivative of each ready image, or the untouched originals for an admin's export) and
``data/README.txt``; SHA-256 manifests for the payload and the tag files. ``passages import``
reads such a bag as it is.

Only published stories, selected through the one visibility rule
(:func:`webapp.services.visibility.public_stories`). Nothing is held whole in memory: stories
are loaded a batch at a time, each image is copied from the object store into the zip in chunks
(hashed on the way), the CSV is spooled to a temporary file, and the zip is written to
``<name>.partial`` and renamed only when complete, so a half-written file is never offered for
download. This module never changes the database.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from flask import current_app, has_request_context, url_for
from sqlalchemy.orm import selectinload

from webapp.errors import NotFound
from webapp.extensions import db
from webapp.interop import columns, instance
from webapp.models import Collection, CollectionItem, MediaAsset, MediaState, Story
from webapp.presenters import story_json
from webapp.services import backends
from webapp.services.visibility import public_stories

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
BATCH = 100
#: File name extension of each image type (originals keep their format).
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/tiff": "tif",
    "image/gif": "gif",
    "image/heic": "heic",
    "image/heif": "heif",
    "image/avif": "avif",
}

README = """\
Passages — export of the published archive / export des récits publiés

This folder is a BagIt bag (RFC 8493). manifest-sha256.txt lists the SHA-256 of every file
under data/. / Ce dossier est un « bag » BagIt ; manifest-sha256.txt donne le SHA-256 de chaque
fichier de data/.

data/stories.csv  one row per published story / une ligne par récit publié
                  (UTF-8 with BOM / UTF-8 avec BOM)
data/stories/     each story as the public API gives it / chaque récit tel que l'API le donne
data/images/      each story's images / les images de chaque récit

Cells holding several values are joined with "|"; a "|" or "\\" inside a value is written "\\|"
or "\\\\". / Les cellules à plusieurs valeurs les séparent par « | ».

A cell starting with =, +, -, @, a tab or a carriage return is written with a leading ' so that
spreadsheets show it as text and never run it as a formula; "passages import" removes that '.
/ Une cellule qui commence par =, +, -, @ est précédée d'une apostrophe : les tableurs
l'affichent comme du texte et ne l'exécutent jamais comme une formule.

Columns / colonnes:
"""


@dataclass
class ExportSummary:
    stories: int = 0
    images: int = 0
    payload_bytes: int = 0
    path: Path | None = None
    manifest: dict[str, str] = field(default_factory=dict)


Progress = Callable[[int, int], None]


def story_ids_to_export(collection_slug: str | None = None) -> list[int]:
    """Ids of the published stories an export holds (a collection's, or all), oldest first."""
    query = public_stories().with_only_columns(Story.id).order_by(None).order_by(Story.id)
    if collection_slug:
        collection = db.session.scalar(
            db.select(Collection).where(Collection.slug == collection_slug)
        )
        if collection is None:
            raise NotFound(f"no collection with the slug {collection_slug!r}")
        query = query.join(CollectionItem, CollectionItem.story_id == Story.id).where(
            CollectionItem.collection_id == collection.id
        )
    return list(db.session.scalars(query))


def write_bag(
    target: Path,
    *,
    collection_slug: str | None = None,
    originals: bool = False,
    progress: Progress | None = None,
) -> ExportSummary:
    """Write the bag as a zip at ``target`` (via ``target.partial``); return what it holds.

    ``progress(done, total)`` is called after each batch of stories. Needs an app context.
    """
    ids = story_ids_to_export(collection_slug)
    bag = target.name.removesuffix(".zip")
    partial = target.with_name(target.name + ".partial")
    summary = ExportSummary(path=target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with public_link_context(), tempfile.TemporaryFile("w+b") as spool:
        text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
        text.write(columns.BOM)
        writer = csv.writer(text)
        writer.writerow(columns.COLUMN_NAMES)
        if progress:
            progress(0, len(ids))  # the total is known before the first batch is written
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            for done, batch in _batches(ids):
                slugs = _collection_slugs([s.id for s in batch])
                for story in batch:
                    row = _export_story(zf, bag, story, slugs.get(story.id, []), originals, summary)
                    writer.writerow(row)
                    summary.stories += 1
                db.session.expunge_all()  # a batch at a time in memory
                if progress:
                    progress(done, len(ids))
            text.flush()
            spool.seek(0)
            _add_stream(zf, bag, "data/stories.csv", spool, summary, compress=True)
            _add_bytes(zf, bag, "data/README.txt", _readme().encode(), summary)
            _write_tag_files(zf, bag, summary, collection_slug, originals)
        text.detach()
    os.replace(partial, target)
    log.info(
        "export %s: %d stories, %d images, %d payload bytes",
        target.name,
        summary.stories,
        summary.images,
        summary.payload_bytes,
    )
    return summary


@contextmanager
def public_link_context() -> Iterator[None]:
    """A request context addressed to ``PUBLIC_URL`` so that ``url_for`` writes public links
    from a job or a command (no request there)."""
    if has_request_context():
        yield
        return
    public_url = backends.settings().public_url
    options: dict[str, Any] = {"base_url": public_url} if public_url else {}
    with current_app.test_request_context("/", **options):
        yield


def _batches(ids: list[int]) -> Iterator[tuple[int, list[Story]]]:
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        stories = db.session.scalars(
            db.select(Story)
            .where(Story.id.in_(chunk), Story.is_public)
            .options(selectinload(Story.media), selectinload(Story.organisation))
            .order_by(Story.id)
        ).all()
        yield start + len(chunk), list(stories)


def _collection_slugs(story_ids: list[int]) -> dict[int, list[str]]:
    rows = db.session.execute(
        db.select(CollectionItem.story_id, Collection.slug)
        .join(Collection, Collection.id == CollectionItem.collection_id)
        .where(CollectionItem.story_id.in_(story_ids), Collection.published.is_(True))
        .order_by(Collection.slug)
    )
    found: dict[int, list[str]] = {}
    for story_id, slug in rows:
        found.setdefault(story_id, []).append(slug)
    return found


def _export_story(
    zf: zipfile.ZipFile,
    bag: str,
    story: Story,
    collection_slugs: list[str],
    originals: bool,
    summary: ExportSummary,
) -> list[str]:
    document = story_json(story, include_private=False, viewer=None)
    payload = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True).encode()
    _add_bytes(zf, bag, f"data/stories/{story.id}.json", payload, summary)
    names, digests, alts = [], [], []
    for number, media in enumerate(_exportable_media(story), start=1):
        chosen = _image_source(media, originals)
        if chosen is None:
            continue
        key, mime = chosen
        name = f"images/{story.id}/{number}.{EXTENSIONS.get(mime, 'bin')}"
        with backends.object_store().open(key) as stream:
            digest = _add_stream(zf, bag, f"data/{name}", stream, summary, compress=False)
        summary.images += 1
        names.append(name)
        digests.append(digest)
        alts.append(media.alt_text or "")
    extra = story.extra or {}
    values: dict[str, str | list[str] | None] = {
        "identifier": _permanent_link(document["url"]),
        "title": story.title,
        "description": story.body,
        "language": story.language,
        "places": list(story.places or []),
        "period": story.period,
        "themes": list(story.themes or []),
        "licence": story.licence,
        "credit": extra.get("credit"),
        "contributor_name": extra.get("contributor_name"),
        "summary": extra.get("summary"),
        "organisation": story.organisation.name if story.organisation else None,
        "collections": collection_slugs,
        "date_published": _iso(story.published_at),
        "url": document["url"],
        "images": names,
        "image_sha256": digests,
        "alt_texts": alts if any(alts) else [],
        "kind": story.kind,
        "source_institution": story.source_institution,
        "source_reference": story.source_reference,
        "source_fonds": story.source_fonds,
        "source_producer": story.source_producer,
    }
    return [columns.write_cell(name, values[name]) for name in columns.COLUMN_NAMES]


def _permanent_link(url: str) -> str:
    """The story's public URL without its title slug: the id alone is permanent."""
    return re.sub(r"(/stories/\d+)-[^/?#]*$", r"\1", url)


def own_story_id(identifier: str, bag_instance: str | None = None) -> int | None:
    """The id of this site's story that ``identifier`` (an exported permanent link) names, or
    ``None`` when it names another site or no story. Needs an app context.

    ``bag_instance`` is the identity the bag's ``bag-info.txt`` names: a bag this installation
    wrote names its stories by number whatever address the site had then (the address moves,
    the identity does not); a bag from another installation names none of ours. Only an older
    bag without the identity is recognised by the address, the current one or ``PUBLIC_URL``.
    """
    match = re.fullmatch(r"(?P<site>.+)/stories/(?P<id>\d{1,18})", identifier.strip())
    if match is None:
        return None
    if bag_instance is not None:
        return int(match["id"]) if bag_instance == instance.instance_id() else None
    with public_link_context():
        site = url_for("public.home", _external=True).rstrip("/")
    return int(match["id"]) if match["site"] == site else None


def _exportable_media(story: Story) -> list[MediaAsset]:
    return sorted(
        (m for m in story.media if m.state == MediaState.READY.value),
        key=lambda m: (m.position, m.id),
    )


def _image_source(media: MediaAsset, originals: bool) -> tuple[str, str] | None:
    """(object key, MIME type) of what the bag holds for this image: the original, or the
    largest public derivative (JPEG preferred at equal size: every tool opens it)."""
    if originals:
        return media.original_key, media.mime_type
    entries = [e for e in (media.derivatives or {}).values() if e.get("key")]
    if not entries:
        return None
    best = max(
        entries,
        key=lambda e: (
            (e.get("width") or 0) * (e.get("height") or 0),
            e.get("mime") == "image/jpeg",
        ),
    )
    return best["key"], best.get("mime", "application/octet-stream")


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _add_stream(
    zf: zipfile.ZipFile,
    bag: str,
    name: str,
    stream: BinaryIO,
    summary: ExportSummary,
    *,
    compress: bool,
) -> str:
    """Copy ``stream`` into the zip in chunks, hashing on the way; return its SHA-256."""
    info = zipfile.ZipInfo(f"{bag}/{name}", date_time=_zip_time())
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    digest = hashlib.sha256()
    size = 0
    with zf.open(info, "w", force_zip64=True) as out:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    summary.manifest[name] = digest.hexdigest()
    summary.payload_bytes += size
    return digest.hexdigest()


def _add_bytes(
    zf: zipfile.ZipFile, bag: str, name: str, data: bytes, summary: ExportSummary
) -> str:
    return _add_stream(zf, bag, name, io.BytesIO(data), summary, compress=True)


def _zip_time() -> tuple[int, int, int, int, int, int]:
    now = datetime.now(UTC)
    return (now.year, now.month, now.day, now.hour, now.minute, now.second)


def _readme() -> str:
    lines = [README]
    for column in columns.COLUMNS:
        several = " (several values / plusieurs valeurs)" if column.multiple else ""
        lines.append(f"  {column.name}: {column.meaning}{several}\n")
    return "".join(lines)


def _write_tag_files(
    zf: zipfile.ZipFile,
    bag: str,
    summary: ExportSummary,
    collection_slug: str | None,
    originals: bool,
) -> None:
    """bagit.txt, bag-info.txt, the payload manifest and the tag manifest (all SHA-256)."""
    what = "originals" if originals else "largest public derivatives"
    scope = f"collection {collection_slug}" if collection_slug else "all published stories"
    tags: dict[str, bytes] = {
        "bagit.txt": b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
        "bag-info.txt": (
            "Bag-Software-Agent: Passages\n"
            f"Bagging-Date: {datetime.now(UTC).date().isoformat()}\n"
            f"Payload-Oxum: {summary.payload_bytes}.{len(summary.manifest)}\n"
            f"External-Description: Passages export: {scope}; images: {what}\n"
            f"External-Identifier: {bag}\n"
            f"{instance.BAG_INFO_FIELD}: {instance.instance_id()}\n"
        ).encode(),
        "manifest-sha256.txt": "".join(
            f"{digest}  {name}\n" for name, digest in sorted(summary.manifest.items())
        ).encode(),
    }
    tag_manifest = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in tags.items()
    ).encode()
    tags["tagmanifest-sha256.txt"] = tag_manifest
    for name, data in tags.items():
        info = zipfile.ZipInfo(f"{bag}/{name}", date_time=_zip_time())
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        zf.writestr(info, data)
