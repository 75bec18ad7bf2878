"""Local-folder backend: the zero-service default, safe for untrusted keys.

Layout under the root folder::

    data/   the objects; key ``a/b/c.jpg`` lives at ``data/a@/b@/c.jpg``
    meta/   one JSON sidecar per object (content type, MD5) at the same relative path
    tmp/    uploads in progress; renamed into ``data/`` when complete
    locks/  256 lock files; a key's stripe serialises the data+sidecar swap of concurrent puts

Directories carry an ``@`` suffix, a character keys cannot contain, so the keys ``a`` and ``a/b``
can coexist as they do on S3, and so nothing but an object can ever sit at an object's path.
Objects keep their own names, so operators can browse ``data/`` and back it up with plain tools.

This module must never join a key onto the root before :func:`storage.base.validate_key` has
accepted it, and it re-checks that the resolved path stays under the root (a symlink planted
inside the tree must not lead writes or reads outside it). It relies on POSIX ``flock`` and
``os.replace`` semantics and therefore targets Linux/macOS only.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from storage.base import (
    COPY_CHUNK_SIZE,
    InvalidKey,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    StorageUnavailable,
    as_stream,
    validate_content_type,
    validate_key,
    validate_prefix,
)

logger = logging.getLogger(__name__)

DIR_SUFFIX = "@"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
STALE_UPLOAD_AGE = timedelta(days=1)
"""Files in ``tmp/`` older than this are leftovers of a crashed process and are removed."""


class LocalObjectStore(ObjectStore):
    """Objects as plain files under ``root``; ``etag`` is the MD5 hex digest of the content.

    A ``put`` streams into ``tmp/`` (same filesystem, so the final ``os.replace`` is atomic),
    fsyncs, then swaps the data file and its sidecar in under the key's lock: readers see the old
    or the new object, never a partial one, and ``stat`` never pairs one put's data with another
    put's content type. Files are created with mode 0600: originals are private.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._data = self.root / "data"
        self._meta = self.root / "meta"
        self._tmp = self.root / "tmp"
        self._locks = self.root / "locks"
        try:
            self._make_folders()
        except StorageUnavailable as exc:
            # The app still starts: each write tries again and fails as an outage until fixed.
            logger.error("%s", exc)
        self._data_resolved = self._data.resolve()
        self._meta_resolved = self._meta.resolve()
        self._remove_stale_uploads()

    def __repr__(self) -> str:
        return f"LocalObjectStore({str(self.root)!r})"

    def _make_folders(self) -> None:
        """Create the store's folders if they are missing (first use, or a root that was lost:
        deleted or unmounted while the app ran). Nothing is cached: each write checks again."""
        try:
            for folder in (self._data, self._meta, self._tmp, self._locks):
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"storage folder {self.root} is not usable: {exc}") from exc

    # --- paths -----------------------------------------------------------------------------

    def _path(self, base: Path, resolved_base: Path, key: str) -> Path:
        """Map a validated key to its file under ``base``, refusing anything that escapes it."""
        *folders, name = validate_key(key).split("/")
        path = base.joinpath(*(folder + DIR_SUFFIX for folder in folders), name)
        if not path.resolve().is_relative_to(resolved_base):
            raise InvalidKey(f"key {key!r} resolves outside the storage root")
        return path

    def _data_path(self, key: str) -> Path:
        return self._path(self._data, self._data_resolved, key)

    def _meta_path(self, key: str) -> Path:
        return self._path(self._meta, self._meta_resolved, key)

    @contextlib.contextmanager
    def _locked(self, key: str, *, exclusive: bool) -> Iterator[None]:
        """Hold the key's stripe lock; a fresh open file per call so threads exclude each other."""
        stripe = hashlib.md5(key.encode(), usedforsecurity=False).hexdigest()[:2]
        path = self._locks / f"{stripe}.lock"
        try:
            try:
                lock_file = open(path, "a+b")  # noqa: SIM115 - closed by the with block below
            except FileNotFoundError:
                self._locks.mkdir(parents=True, exist_ok=True)  # the root was lost: recreate
                lock_file = open(path, "a+b")  # noqa: SIM115
        except OSError as exc:
            raise StorageUnavailable(f"storage folder {self.root} is not usable: {exc}") from exc
        with lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    # --- writing ---------------------------------------------------------------------------

    def put(
        self,
        key: str,
        data: bytes | BinaryIO,
        content_type: str = DEFAULT_CONTENT_TYPE,
        length: int | None = None,
    ) -> ObjectInfo:
        data_path = self._data_path(key)
        meta_path = self._meta_path(key)
        validate_content_type(content_type)
        reader = as_stream(data, length)
        data_tmp = meta_tmp = None
        try:
            self._make_folders()
            data_tmp = self._write_temp(lambda out: _copy(reader, out))
            meta = {"content_type": content_type, "md5": reader.md5_hex, "size": reader.size}
            meta_tmp = self._write_temp(lambda out: out.write(json.dumps(meta).encode()))
            data_path.parent.mkdir(parents=True, exist_ok=True)
            meta_path.parent.mkdir(parents=True, exist_ok=True)
            with self._locked(key, exclusive=True):
                os.replace(data_tmp, data_path)
                data_tmp = None
                os.replace(meta_tmp, meta_path)
                meta_tmp = None
        except OSError as exc:
            if exc is reader.source_error:
                raise
            # The disk is full, read-only, or the folder is not ours any more: an outage of
            # the store, not a fault of what was sent.
            raise StorageUnavailable(
                f"storage folder {self.root} could not store {key!r}: {exc}"
            ) from exc
        finally:
            for leftover in (data_tmp, meta_tmp):
                if leftover is not None:
                    with contextlib.suppress(OSError):
                        os.unlink(leftover)
        logger.debug("stored %s (%d bytes, %s)", key, reader.size, content_type)
        return ObjectInfo(key=key, size=reader.size, content_type=content_type, etag=reader.md5_hex)

    def _write_temp(self, write: Callable[[BinaryIO], object]) -> str:
        """Create a file in ``tmp/``, fill it with ``write(file)``, fsync it, return its path."""
        fd, name = tempfile.mkstemp(dir=self._tmp, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(name)
            raise
        return name

    def delete(self, key: str) -> None:
        data_path = self._data_path(key)
        meta_path = self._meta_path(key)
        with self._locked(key, exclusive=True), self._unavailable_on_os_error("delete", key):
            data_path.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
        logger.debug("deleted %s", key)

    @contextlib.contextmanager
    def _unavailable_on_os_error(self, action: str, key: str) -> Iterator[None]:
        """Turn a filesystem failure (permissions, I/O error, unmounted disk) into
        :class:`StorageUnavailable`, as the S3 backend does with a server that does not answer."""
        try:
            yield
        except ObjectNotFound:
            raise
        except OSError as exc:
            raise StorageUnavailable(
                f"storage folder {self.root} could not {action} {key!r}: {exc}"
            ) from exc

    # --- reading ---------------------------------------------------------------------------

    def get(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()

    def open(self, key: str) -> BinaryIO:
        path = self._data_path(key)
        with self._unavailable_on_os_error("read", key):
            try:
                return open(path, "rb")  # noqa: SIM115 - the caller closes it (context manager)
            except FileNotFoundError as exc:
                raise ObjectNotFound(f"no object {key!r}") from exc

    def stat(self, key: str) -> ObjectInfo:
        data_path = self._data_path(key)
        meta_path = self._meta_path(key)
        with self._locked(key, exclusive=False), self._unavailable_on_os_error("describe", key):
            try:
                file_stat = data_path.stat()
            except FileNotFoundError as exc:
                raise ObjectNotFound(f"no object {key!r}") from exc
            try:
                meta = json.loads(meta_path.read_bytes())
            except (OSError, ValueError):
                logger.warning("object %s has no readable sidecar; content type unknown", key)
                meta = {}
        return ObjectInfo(
            key=key,
            size=file_stat.st_size,
            content_type=meta.get("content_type", DEFAULT_CONTENT_TYPE),
            etag=meta.get("md5"),
            last_modified=datetime.fromtimestamp(file_stat.st_mtime, UTC),
        )

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield objects under ``prefix`` in key order, walking only the folders that can match.

        Each folder is read in the order its keys sort in: a folder ``a@`` sorts as ``a/``, so a
        folder's whole subtree is a contiguous run of keys and no global sort is needed.
        """
        validate_prefix(prefix)
        *folders, partial = prefix.split("/") if prefix else [""]
        start = self._data.joinpath(*(folder + DIR_SUFFIX for folder in folders))
        key_prefix = "".join(folder + "/" for folder in folders)
        for key in self._walk(start, key_prefix, partial):
            try:
                yield self.stat(key)
            except ObjectNotFound:
                continue  # deleted while we were listing

    def _walk(self, folder: Path, key_prefix: str, partial: str = "") -> Iterator[str]:
        try:
            with os.scandir(folder) as scan:
                entries = list(scan)
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            raise StorageUnavailable(
                f"storage folder {self.root} could not be listed: {exc}"
            ) from exc
        children: list[tuple[str, str, os.DirEntry[str]]] = []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False) and entry.name.endswith(DIR_SUFFIX):
                name = entry.name[: -len(DIR_SUFFIX)]
                children.append((name + "/", name, entry))
            elif entry.is_file(follow_symlinks=False) and DIR_SUFFIX not in entry.name:
                children.append((entry.name, entry.name, entry))
            else:
                logger.warning("ignoring unexpected entry %s in the object store", entry.path)
        for sort_name, name, entry in sorted(children, key=lambda child: child[0]):
            if not name.startswith(partial):
                continue
            if sort_name.endswith("/"):
                yield from self._walk(Path(entry.path), key_prefix + sort_name)
            else:
                yield key_prefix + name

    # --- the rest --------------------------------------------------------------------------

    def presigned_url(self, key: str, expires: timedelta = timedelta(minutes=10)) -> str | None:
        validate_key(key)
        return None

    def check(self) -> None:
        """Prove the root is writable by creating and removing a file in ``tmp/`` (making the
        folders again first if the root was lost)."""
        try:
            self._make_folders()
            name = self._write_temp(lambda out: out.write(b"ok"))
            os.unlink(name)
        except OSError as exc:
            raise StorageUnavailable(f"storage folder {self.root} is not writable: {exc}") from exc

    def remove_partial_uploads(self, older_than: timedelta) -> int:
        """Remove files in ``tmp/`` (uploads of a killed process) older than ``older_than``."""
        cutoff = time.time() - older_than.total_seconds()
        removed = 0
        with contextlib.suppress(OSError), os.scandir(self._tmp) as scan:
            for entry in scan:
                with contextlib.suppress(OSError):
                    if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed += 1
                        logger.info("removed stale upload %s", entry.path)
        return removed

    def _remove_stale_uploads(self) -> None:
        self.remove_partial_uploads(STALE_UPLOAD_AGE)


def _copy(reader: BinaryIO, out: BinaryIO) -> None:
    while chunk := reader.read(COPY_CHUNK_SIZE):
        out.write(chunk)
