"""The object storage contract: the interface, its value object, its errors and its key rules.

Every backend (local folder, S3/MinIO) implements :class:`ObjectStore` and must behave the same
way, which the shared contract suite in ``tests/storage`` checks. Keys are validated here, in one
place, so no backend can accept a key another one rejects. This module must never import a vendor
SDK or touch the filesystem: it is the part callers depend on, and it stays backend-neutral.
"""

from __future__ import annotations

import abc
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import BinaryIO

MAX_KEY_LENGTH = 512
"""Keys longer than this are rejected; S3 allows 1024 bytes, local filesystems far less per path."""

MAX_SEGMENT_LENGTH = 200
"""Longest segment: filesystems allow 255 bytes per name and the local backend adds a suffix."""

MAX_CONTENT_TYPE_LENGTH = 255

COPY_CHUNK_SIZE = 1024 * 1024
"""Size of the pieces a streamed upload is read in, so a large file never sits whole in memory."""

_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")
_CONTENT_TYPE = re.compile(r"[\x21-\x7e][\x20-\x7e]*")


class StorageError(Exception):
    """Base of every error raised by ``storage/``; callers may catch this one alone."""


class ObjectNotFound(StorageError, FileNotFoundError):
    """The key names no object. Also a ``FileNotFoundError`` so generic file code handles it."""


class InvalidKey(StorageError, ValueError):
    """The key breaks the key rules; nothing was read or written."""


class StorageUnavailable(StorageError):
    """The backend cannot be reached (refused, timed out, server error); often transient."""


@dataclass(frozen=True)
class ObjectInfo:
    """What a store knows about one object.

    ``etag`` is an opaque change-detection token, not a checksum callers may recompute: the local
    backend uses the MD5 hex digest of the content, which equals the S3 ETag of objects uploaded in
    one part; S3 multipart uploads have ETags of the form ``<hex>-<parts>``.

    ``last_modified`` (timezone-aware UTC) is when the object was last written; the leftover
    collector uses it as the object's age. ``put`` leaves it ``None`` (it is the server's clock,
    not ours), and it takes no part in comparisons so a ``put``'s answer equals a ``stat``'s.
    """

    key: str
    size: int
    content_type: str
    etag: str | None
    last_modified: datetime | None = field(default=None, compare=False)


def validate_key(key: object) -> str:
    """Return ``key`` unchanged if it is a valid object key, else raise :class:`InvalidKey`.

    Keys must be safe to use as relative paths on any filesystem and as S3 object names, so the
    rules are deliberately narrow: 1..512 ASCII characters, ``/``-separated segments of at most
    200 characters from ``[A-Za-z0-9._-]``, no empty, ``.`` or ``..`` segment, no leading ``/``
    and no backslash.
    """
    if not isinstance(key, str):
        raise InvalidKey(f"key must be a string, not {type(key).__name__}")
    if not key:
        raise InvalidKey("key must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"key is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}")
    if "\\" in key:
        raise InvalidKey(f"key {key!r} contains a backslash; use '/' to separate segments")
    if key.startswith("/"):
        raise InvalidKey(f"key {key!r} is absolute; keys are relative and must not start with '/'")
    for segment in key.split("/"):
        _validate_segment(key, segment)
    return key


def validate_prefix(prefix: object) -> str:
    """Return ``prefix`` if it could start a valid key, else raise :class:`InvalidKey`.

    A prefix is a key that may be cut anywhere: ``""``, ``"originals/"`` and ``"originals/ab"`` are
    all valid. Its complete segments follow the key rules; its last segment may be partial.
    """
    if not isinstance(prefix, str):
        raise InvalidKey(f"prefix must be a string, not {type(prefix).__name__}")
    if prefix == "":
        return prefix
    if len(prefix) > MAX_KEY_LENGTH:
        raise InvalidKey(f"prefix is {len(prefix)} characters long; the limit is {MAX_KEY_LENGTH}")
    if "\\" in prefix:
        raise InvalidKey(f"prefix {prefix!r} contains a backslash")
    if prefix.startswith("/"):
        raise InvalidKey(f"prefix {prefix!r} is absolute; it must not start with '/'")
    *complete, last = prefix.split("/")
    for segment in complete:
        _validate_segment(prefix, segment)
    if last and (not _SEGMENT.fullmatch(last) or len(last) > MAX_SEGMENT_LENGTH):
        raise InvalidKey(f"prefix {prefix!r} cannot start any valid key")
    return prefix


def _validate_segment(key: str, segment: str) -> None:
    if segment == "":
        raise InvalidKey(f"key {key!r} has an empty segment ('//' or a trailing '/')")
    if segment in (".", ".."):
        raise InvalidKey(
            f"key {key!r} has a {segment!r} segment; relative segments are not allowed"
        )
    if not _SEGMENT.fullmatch(segment):
        raise InvalidKey(f"key {key!r} has characters outside [A-Za-z0-9._-] in {segment!r}")
    if len(segment) > MAX_SEGMENT_LENGTH:
        raise InvalidKey(
            f"key {key!r} has a segment of {len(segment)} characters; "
            f"the limit is {MAX_SEGMENT_LENGTH}"
        )


def validate_content_type(content_type: object) -> str:
    """Return ``content_type`` if it is printable ASCII that fits in an HTTP header.

    It ends up as an S3 ``Content-Type`` header and in the ``Content-Type`` of served files, so
    control characters (header injection) are refused here rather than by some HTTP library later.
    """
    if (
        not isinstance(content_type, str)
        or len(content_type) > MAX_CONTENT_TYPE_LENGTH
        or not _CONTENT_TYPE.fullmatch(content_type)
    ):
        raise ValueError(f"invalid content type {content_type!r}")
    return content_type


class MeasuredReader(io.RawIOBase):
    """Reads a caller's stream for a backend while counting and hashing what passes through.

    Both backends upload through it, so both know the size and MD5 of what they stored and both
    enforce ``length`` the same way: a stream that ends early raises :class:`StorageError` (the
    upload is abandoned), and bytes beyond ``length`` are left unread. An exception raised by the
    source itself reaches the caller unchanged.
    """

    def __init__(self, source: BinaryIO, length: int | None) -> None:
        super().__init__()
        if length is not None and length < 0:
            raise ValueError(f"length must not be negative, got {length}")
        self._source = source
        self._length = length
        self.size = 0
        self.source_error: BaseException | None = None
        self._md5 = hashlib.md5(usedforsecurity=False)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._length is not None:
            remaining = self._length - self.size
            size = remaining if size is None or size < 0 else min(size, remaining)
            if size == 0:
                return b""
        try:
            chunk = self._source.read(size if size is not None and size >= 0 else -1)
        except BaseException as exc:
            # Remembered so backends let the caller's own error (a client that went away)
            # through unchanged instead of dressing it up as a storage failure.
            self.source_error = exc
            raise
        if chunk is None:  # a non-blocking raw stream with nothing ready
            chunk = b""
        if not chunk and self._length is not None and self.size < self._length:
            raise StorageError(
                f"stream ended after {self.size} bytes; {self._length} were announced"
            )
        self.size += len(chunk)
        self._md5.update(chunk)
        return bytes(chunk)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    @property
    def md5_hex(self) -> str:
        return self._md5.hexdigest()


def as_stream(
    data: bytes | bytearray | memoryview | BinaryIO, length: int | None
) -> MeasuredReader:
    """Wrap bytes or a readable binary file object for an upload, checking ``length`` for bytes."""
    if isinstance(data, bytes | bytearray | memoryview):
        data = bytes(data)
        if length is not None and length != len(data):
            raise ValueError(f"length={length} does not match the {len(data)} bytes given")
        return MeasuredReader(io.BytesIO(data), len(data))
    if not callable(getattr(data, "read", None)):
        raise TypeError(f"data must be bytes or a binary file object, not {type(data).__name__}")
    return MeasuredReader(data, length)


class ObjectStore(abc.ABC):
    """A flat namespace of immutable-until-overwritten byte objects addressed by keys.

    Callers hold an ``ObjectStore`` and never learn which backend it is. Every method validates
    its key first and raises :class:`InvalidKey` before touching the backend.
    """

    @abc.abstractmethod
    def put(
        self,
        key: str,
        data: bytes | BinaryIO,
        content_type: str = "application/octet-stream",
        length: int | None = None,
    ) -> ObjectInfo:
        """Store ``data`` under ``key``, replacing any object there, atomically.

        ``data`` is bytes or a binary file object read in chunks; ``length`` (optional for file
        objects) is the number of bytes to read from it. Readers see the old or the new object,
        never a part of one.
        """

    @abc.abstractmethod
    def get(self, key: str) -> bytes:
        """Return the whole content of ``key``; :class:`ObjectNotFound` if there is none."""

    @abc.abstractmethod
    def open(self, key: str) -> BinaryIO:
        """Open ``key`` for a streaming read; use as a context manager so it is always closed.

        Meant for serving large files without loading them into memory.
        """

    @abc.abstractmethod
    def stat(self, key: str) -> ObjectInfo:
        """Describe ``key``; :class:`ObjectNotFound` if there is none."""

    def exists(self, key: str) -> bool:
        """Tell whether ``key`` names an object."""
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``. Idempotent: deleting a missing key is not an error (retried jobs)."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield every object whose key starts with ``prefix``, recursively, sorted by key."""

    @abc.abstractmethod
    def presigned_url(self, key: str, expires: timedelta = timedelta(minutes=10)) -> str | None:
        """Return a short-lived URL that lets anyone holding it GET ``key``.

        ``None`` when the backend cannot make one (local folder): the app then streams the object
        through :meth:`open` itself. The object's existence is not checked.
        """

    @abc.abstractmethod
    def remove_partial_uploads(self, older_than: timedelta) -> int:
        """Remove uploads that were started but never completed more than ``older_than`` ago.

        A killed request leaves such pieces behind (files in the local store's ``tmp/``,
        incomplete multipart uploads on S3); they are invisible to :meth:`list`. Returns how
        many were removed. Recent ones are kept: they may belong to an upload still running.
        """

    @abc.abstractmethod
    def check(self) -> None:
        """Raise :class:`StorageUnavailable` unless the backend is reachable and usable now."""
