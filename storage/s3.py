"""S3/MinIO backend, through the ``minio`` client.

This module is the edge where vendor errors become ours: ``NoSuchKey`` becomes
:class:`ObjectNotFound`, refused connections, timeouts and 5xx answers become
:class:`StorageUnavailable`, anything else the server refuses becomes :class:`StorageError`. It
must never let a ``minio`` or ``urllib3`` exception escape, never block for long when the server is
down (short timeouts, few retries), and never make a bucket or object public: outsiders get at
objects only through short-lived presigned URLs.

Presigned URLs are signed for the *public* endpoint when one is given (``S3_PUBLIC_ENDPOINT``):
the signature covers the host name, so a URL signed for the internal name (``minio:9000`` in the
compose file) can neither be reached by a browser nor be rewritten to another host afterwards.
Signing is a local computation; it needs the region to be known, which is why a public client
never asks the server for it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import BinaryIO
from urllib.parse import urlsplit

import certifi
import urllib3
from minio import Minio
from minio.error import InvalidResponseError, MinioException, S3Error, ServerError
from minio.helpers import MIN_PART_SIZE, check_bucket_name

from storage.base import (
    COPY_CHUNK_SIZE,
    MeasuredReader,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    StorageError,
    StorageUnavailable,
    as_stream,
    validate_content_type,
    validate_key,
    validate_prefix,
)

logger = logging.getLogger(__name__)

DEFAULT_CONNECT_TIMEOUT = 3.0
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_RETRIES = 2
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchObject", "NoSuchBucket", "ResourceNotFound"})
_TRANSIENT_CODES = frozenset(
    {
        "InternalError",
        "ServiceUnavailable",
        "SlowDown",
        "RequestTimeout",
        "XMinioServerNotInitialized",
        "XMinioStorageFull",
    }
)
"""Codes an S3 server answers when it is overloaded, starting or out of space: an outage."""
DEFAULT_SIGNING_REGION = "us-east-1"
"""Region used to sign public URLs when none is configured (MinIO's and moto's default)."""


def split_endpoint(endpoint: str, secure: bool) -> tuple[str, bool]:
    """Turn ``host:port`` or ``http(s)://host:port`` into what ``Minio`` wants: host and TLS flag.

    A scheme, when given, decides TLS; otherwise ``secure`` does. Paths are refused because S3
    endpoints have none and ``Minio`` would fail later with a less helpful message.
    """
    endpoint = endpoint.strip()
    if "://" not in endpoint:
        return endpoint.rstrip("/"), secure
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"S3 endpoint {endpoint!r} must be host:port or http(s)://host:port")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"S3 endpoint {endpoint!r} must not have a path or query")
    return parts.netloc, parts.scheme == "https"


class S3ObjectStore(ObjectStore):
    """Objects in one private S3 bucket, created on first write or :meth:`check` if missing.

    The constructor makes no network call, so an app can start while the server is down. Reads of
    a bucket that does not exist yet behave as reads of an empty store.

    Knowing the bucket exists is only a shortcut, never a promise for the life of the process: a
    bucket deleted while the app runs (an operator's mistake, an S3 server restarted without its
    data) is created again by the next write, which is then retried once, and by :meth:`check`.
    That recreation is logged as an error, because the objects stored before are gone.
    """

    def __init__(
        self,
        endpoint: str,
        access_key: str | None,
        secret_key: str | None,
        bucket: str = "passages",
        *,
        secure: bool = False,
        region: str | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        public_endpoint: str | None = None,
    ) -> None:
        host, secure = split_endpoint(endpoint, secure)
        check_bucket_name(bucket, strict=True)  # what AWS and MinIO accept for new buckets
        self.endpoint = host
        self.bucket = bucket
        self.secure = secure
        # minio's default pool retries 5 times with no connect timeout: a dead server would stall
        # every request (and every health check) for minutes. We want a fast, clear failure.
        http_client = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            maxsize=10,
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
            retries=urllib3.Retry(
                total=retries,
                connect=min(retries, 1),  # an unreachable host costs at most two connect timeouts
                backoff_factor=0.2,
                status_forcelist=[500, 502, 503, 504],
            ),
        )
        self._client = Minio(
            host,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http_client,
        )
        self._bucket_ready = False
        self._bucket_seen = False  # the bucket existed once: a later absence means it was lost
        self._bucket_lock = threading.Lock()
        self.public_endpoint: str | None = None
        self._signer = self._client
        if public_endpoint:
            public_host, public_secure = split_endpoint(public_endpoint, secure)
            self.public_endpoint = public_host
            # Never used for requests, only to sign: it must not look the region up over the
            # network (the public name may not resolve from inside the deployment).
            self._signer = Minio(
                public_host,
                access_key=access_key,
                secret_key=secret_key,
                secure=public_secure,
                region=region or DEFAULT_SIGNING_REGION,
            )

    def __repr__(self) -> str:
        scheme = "https" if self.secure else "http"
        return f"S3ObjectStore({scheme}://{self.endpoint}, bucket={self.bucket!r})"

    @contextlib.contextmanager
    def _translated(
        self, action: str, key: str, source: MeasuredReader | None = None
    ) -> Iterator[None]:
        """Run a client call, turning every vendor exception into a storage exception.

        An exception raised by the caller's own upload stream (``source``) passes unchanged.
        """
        try:
            yield
        except StorageError:
            raise
        except Exception as exc:
            if source is not None and exc is source.source_error:
                raise
            translated = self._translate(exc, action, key)
            if translated is None:
                raise
            raise translated from exc

    def _translate(self, exc: Exception, action: str, key: str) -> StorageError | None:
        where = f"{key!r} in bucket {self.bucket!r}" if key else f"bucket {self.bucket!r}"
        if isinstance(exc, S3Error):
            if exc.code in _NOT_FOUND_CODES:
                return ObjectNotFound(f"no object {where}")
            if exc.code in _TRANSIENT_CODES:
                return StorageUnavailable(
                    f"S3 at {self.endpoint} unavailable while trying to {action} {where}: "
                    f"{exc.code}"
                )
            return StorageError(f"S3 refused to {action} {where}: {exc.code}: {exc.message}")
        if isinstance(
            exc, ServerError | InvalidResponseError | urllib3.exceptions.HTTPError | OSError
        ):
            return StorageUnavailable(
                f"S3 at {self.endpoint} unavailable while trying to {action} {where}: {exc}"
            )
        if isinstance(exc, MinioException):
            return StorageError(f"S3 error while trying to {action} {where}: {exc}")
        return None

    def _ensure_bucket(self) -> None:
        """Create the bucket if this store has not seen it yet; a concurrent creator winning the
        race is fine. :meth:`_forget_bucket` makes the next call look again."""
        if self._bucket_ready:
            return
        with self._bucket_lock, self._translated("find or create", ""):
            if self._bucket_ready:
                return
            if not self._client.bucket_exists(self.bucket):
                try:
                    self._client.make_bucket(self.bucket)
                    if self._bucket_seen:
                        logger.error(
                            "bucket %s on %s had disappeared and was created again; objects "
                            "stored before are gone: run `passages check` and restore them",
                            self.bucket,
                            self.endpoint,
                        )
                    else:
                        logger.info("created bucket %s on %s", self.bucket, self.endpoint)
                except S3Error as exc:
                    if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise
            self._bucket_ready = True
            self._bucket_seen = True

    def _forget_bucket(self) -> None:
        """Stop trusting that the bucket exists (a write was told it does not)."""
        with self._bucket_lock:
            self._bucket_ready = False

    # --- writing ---------------------------------------------------------------------------

    def put(
        self,
        key: str,
        data: bytes | BinaryIO,
        content_type: str = "application/octet-stream",
        length: int | None = None,
    ) -> ObjectInfo:
        validate_key(key)
        validate_content_type(content_type)
        reader = as_stream(data, length)
        known_length = length if length is not None else _bytes_length(data)
        rereadable = isinstance(data, bytes | bytearray | memoryview)
        start = None if rereadable else _position_of(data)
        self._ensure_bucket()
        try:
            return self._put_once(key, reader, content_type, known_length)
        except ObjectNotFound:
            # The bucket was deleted since we last saw it: create it again and write once more,
            # if the caller's data can be read again from where this put started.
            self._forget_bucket()
            self._ensure_bucket()
            if not rereadable and start is None:
                raise StorageUnavailable(
                    f"bucket {self.bucket!r} had disappeared and was created again; "
                    f"{key!r} was not stored, try again"
                ) from None
            if start is not None:
                data.seek(start)  # type: ignore[union-attr]
            return self._put_once(key, as_stream(data, length), content_type, known_length)

    def _put_once(
        self, key: str, reader: MeasuredReader, content_type: str, known_length: int | None
    ) -> ObjectInfo:
        with self._translated("store", key, source=reader):
            result = self._client.put_object(
                self.bucket,
                key,
                reader,
                length=-1 if known_length is None else known_length,
                content_type=content_type,
                # Unknown length: upload in 5 MiB parts, so memory use stays bounded.
                part_size=MIN_PART_SIZE if known_length is None else 0,
                num_parallel_uploads=1,
            )
        logger.debug("stored %s (%d bytes, %s)", key, reader.size, content_type)
        return ObjectInfo(key=key, size=reader.size, content_type=content_type, etag=result.etag)

    def delete(self, key: str) -> None:
        validate_key(key)
        try:
            with self._translated("delete", key):
                self._client.remove_object(self.bucket, key)
        except ObjectNotFound:
            pass  # no bucket yet: nothing to delete
        logger.debug("deleted %s", key)

    # --- reading ---------------------------------------------------------------------------

    def get(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()

    def open(self, key: str) -> BinaryIO:
        validate_key(key)
        with self._translated("read", key):
            response = self._client.get_object(self.bucket, key)
        return io.BufferedReader(_ResponseStream(response, self, key), COPY_CHUNK_SIZE)  # type: ignore[return-value]

    def stat(self, key: str) -> ObjectInfo:
        validate_key(key)
        with self._translated("describe", key):
            obj = self._client.stat_object(self.bucket, key)
        return ObjectInfo(
            key=key,
            size=obj.size or 0,
            content_type=obj.content_type or "application/octet-stream",
            etag=obj.etag,
            last_modified=obj.last_modified,
        )

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield objects under ``prefix`` in key order (S3 lists in UTF-8 byte order).

        S3 listings carry no content type, so each object costs one HEAD request; fine for
        maintenance jobs, not for pages.
        """
        validate_prefix(prefix)
        listing = self._client.list_objects(self.bucket, prefix=prefix or None, recursive=True)
        try:
            with self._translated("list", prefix):
                keys = (obj.object_name for obj in listing if not obj.is_dir)
                for key in keys:
                    try:
                        yield self.stat(key)
                    except ObjectNotFound:
                        continue  # deleted while we were listing
        except ObjectNotFound:
            return  # no bucket yet: an empty store

    # --- the rest --------------------------------------------------------------------------

    def presigned_url(self, key: str, expires: timedelta = timedelta(minutes=10)) -> str | None:
        """Sign a GET for the public endpoint when one is configured, else for the endpoint."""
        validate_key(key)
        with self._translated("sign a URL for", key):
            return self._signer.presigned_get_object(self.bucket, key, expires=expires)

    def remove_partial_uploads(self, older_than: timedelta) -> int:
        """Abort multipart uploads initiated more than ``older_than`` ago.

        minio-py exposes listing and aborting multipart uploads only as underscore methods of
        ``Minio`` (stable across 7.x); they are used here, at the vendor edge, and nowhere else.
        """
        cutoff = datetime.now(UTC) - older_than
        removed = 0
        try:
            with self._translated("list partial uploads in", ""):
                result = self._client._list_multipart_uploads(self.bucket)
                for upload in result.uploads:
                    initiated = upload.initiated_time
                    if initiated is not None and initiated.tzinfo is None:
                        initiated = initiated.replace(tzinfo=UTC)
                    if initiated is None or initiated >= cutoff:
                        continue
                    self._client._abort_multipart_upload(
                        self.bucket, upload.object_name, upload.upload_id
                    )
                    removed += 1
                    logger.info("aborted partial upload of %s", upload.object_name)
        except ObjectNotFound:
            return 0  # no bucket yet: nothing started
        return removed

    def check(self) -> None:
        """Reach the server and make sure the bucket exists (creating it again if it was lost);
        any failure is unavailability."""
        try:
            self._forget_bucket()
            self._ensure_bucket()
        except StorageUnavailable:
            raise
        except StorageError as exc:
            raise StorageUnavailable(str(exc)) from exc


def _bytes_length(data: object) -> int | None:
    return len(data) if isinstance(data, bytes | bytearray | memoryview) else None


def _position_of(data: BinaryIO) -> int | None:
    """Where a seekable stream stands now (to read it again), or ``None`` if it cannot seek."""
    try:
        return data.tell() if data.seekable() else None
    except (AttributeError, OSError, ValueError):
        return None


class _ResponseStream(io.RawIOBase):
    """A streaming HTTP response as a raw file, releasing the connection on close.

    Errors in the middle of the body (server gone, timeout) surface as
    :class:`StorageUnavailable` like every other failure of this backend.
    """

    def __init__(self, response: urllib3.BaseHTTPResponse, store: S3ObjectStore, key: str):
        super().__init__()
        self._response = response
        self._store = store
        self._key = key

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        with self._store._translated("read", self._key):
            return self._response.readinto(buffer)

    def close(self) -> None:
        if not self.closed:
            self._response.close()
            self._response.release_conn()
        super().close()
