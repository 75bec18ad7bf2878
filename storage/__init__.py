"""Object storage for Passages: one small interface, a local-folder and an S3/MinIO backend.

Callers import from here and hold an :class:`ObjectStore` without knowing which backend is behind
it; :func:`open_store` picks one from configuration. Nothing here runs at import time, and this
package must never know about stories, media or Flask: it stores bytes under keys.
"""

from __future__ import annotations

from pathlib import Path

from storage.base import (
    InvalidKey,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    StorageError,
    StorageUnavailable,
    validate_key,
)
from storage.local import LocalObjectStore
from storage.s3 import S3ObjectStore

__all__ = [
    "InvalidKey",
    "LocalObjectStore",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "S3ObjectStore",
    "StorageError",
    "StorageUnavailable",
    "open_store",
    "validate_key",
]


def open_store(
    *,
    data_dir: Path | None = None,
    s3_endpoint: str | None = None,
    s3_access_key: str | None = None,
    s3_secret_key: str | None = None,
    s3_bucket: str = "passages",
    s3_secure: bool = False,
    s3_region: str | None = None,
    s3_public_endpoint: str | None = None,
) -> ObjectStore:
    """Return the store the configuration asks for: S3 when an endpoint is set, else a folder.

    ``s3_endpoint`` may be ``host:port`` (TLS decided by ``s3_secure``) or ``http(s)://host:port``
    (the scheme decides). ``s3_public_endpoint`` is the address browsers use; presigned URLs are
    signed for it. The local store lives in ``data_dir / "objects"``.
    """
    if s3_endpoint:
        return S3ObjectStore(
            s3_endpoint,
            s3_access_key,
            s3_secret_key,
            s3_bucket,
            secure=s3_secure,
            region=s3_region,
            public_endpoint=s3_public_endpoint,
        )
    if data_dir is None:
        raise ValueError("open_store needs data_dir when no s3_endpoint is configured")
    return LocalObjectStore(Path(data_dir) / "objects")
