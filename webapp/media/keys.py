"""The object key layout: the one place that knows how originals and derivatives are named.

Originals are content-addressed (``originals/sha256/<ab>/<sha256>``): identical files are stored
once and the key is the fixity check. Derivatives are deterministic
(``derivatives/<media id>/<name>.<ext>``), so a job that runs twice writes the same objects.
The upload path, the image jobs, erasure and the maintenance jobs all use these functions;
nothing else may spell a key. Pure functions: never touch storage or the database here.
"""

from __future__ import annotations

import re

#: The two families of keys, for listing a whole family (checks, the leftover collector, backups).
ORIGINALS_PREFIX = "originals/"
DERIVATIVES_PREFIX = "derivatives/"

_ORIGINAL = re.compile(r"^originals/sha256/[0-9a-f]{2}/(?P<sha>[0-9a-f]{64})$")
_DERIVATIVE = re.compile(r"^derivatives/(?P<media_id>\d+)/[^/]+$")


def original_key(sha256: str) -> str:
    """Where the untouched original with this SHA-256 lives."""
    return f"originals/sha256/{sha256[:2]}/{sha256}"


def derivative_prefix(media_id: int) -> str:
    """The folder of one media's derivatives (to list what a run left behind)."""
    return f"derivatives/{media_id}/"


def derivative_key(media_id: int, name: str, ext: str) -> str:
    """Where derivative ``name`` of media ``media_id`` lives."""
    return f"{derivative_prefix(media_id)}{name}.{ext}"


def sha256_of_original(key: str) -> str | None:
    """The SHA-256 an original's key names, or ``None`` if ``key`` is not an original's."""
    match = _ORIGINAL.match(key)
    return match["sha"] if match else None


def media_id_of_derivative(key: str) -> int | None:
    """The media id a derivative's key names, or ``None`` if ``key`` is not a derivative's."""
    match = _DERIVATIVE.match(key)
    return int(match["media_id"]) if match else None
