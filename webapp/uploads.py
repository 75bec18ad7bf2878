"""How uploaded files are received: spooled to a temporary file in chunks, hashed on the way.

A recording may be a gigabyte. Werkzeug already writes each file part of a multipart body to a
temporary file in pieces (past 500 KB it is on disk, never whole in memory); the
:class:`HashingSpool` it is given here also feeds every piece to SHA-256 as it is written, so the
content address of an original (``originals/sha256/…``) is known the moment the body has been
read, without reading a gigabyte a second time. A body that ends early (the client went away)
makes Werkzeug raise before the view runs: nothing is stored, and the temporary file is deleted
when it is closed. This module never decides what is accepted; ``webapp.services.submissions``
does.
"""

from __future__ import annotations

import hashlib
import tempfile
from typing import BinaryIO

from flask import Request

#: Bytes a part may hold in memory before it moves to a temporary file (Werkzeug's own figure).
SPOOL_MEMORY = 500 * 1024


class HashingSpool(tempfile.SpooledTemporaryFile):
    """A spooled temporary file that knows the SHA-256 and size of what was written to it."""

    def __init__(self) -> None:
        super().__init__(max_size=SPOOL_MEMORY, mode="w+b")
        self._sha256 = hashlib.sha256()
        self.written = 0

    def write(self, data) -> int:  # type: ignore[override]
        self._sha256.update(data)
        self.written += len(data)
        return super().write(data)

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()


def known_sha256(stream: BinaryIO) -> str | None:
    """The SHA-256 of a spooled upload, when it was computed while the body was read."""
    return stream.sha256 if isinstance(stream, HashingSpool) else None


class PassagesRequest(Request):
    """Flask's request, whose uploaded files are :class:`HashingSpool` files."""

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> BinaryIO:
        return HashingSpool()
