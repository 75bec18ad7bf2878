"""The object key layout: the one place that knows how originals and derivatives are named.

Originals are content-addressed (``originals/sha256/<ab>/<sha256>``): identical files are stored
once and the key is the fixity check. Derivatives are deterministic
(``derivatives/<media id>/<name>.<ext>``), so a job that runs twice writes the same objects.
Images the IIIF Image API made on demand are a cache
(``iiif/<story id>/<media id>/<variant>/<request>``): grouped by story so that withdrawing or
erasing a story drops its whole cache with one listing, and named by the variant of the
derivatives they were cut from, so a re-derivation leaves the old ones unreferenced.
A collection's printable exhibition is ``exhibitions/<collection id>/<fingerprint>/<format>.pdf``:
named by the fingerprint of the public content it shows, so a job run twice writes the same
objects and a PDF of older content is never mistaken for the current one.
The upload path, the image jobs, erasure and the maintenance jobs all use these functions;
nothing else may spell a key. Pure functions: never touch storage or the database here.
"""

from __future__ import annotations

import hashlib
import json
import re

#: The two families of keys, for listing a whole family (checks, the leftover collector, backups).
ORIGINALS_PREFIX = "originals/"
DERIVATIVES_PREFIX = "derivatives/"
IIIF_CACHE_PREFIX = "iiif/"
EXHIBITIONS_PREFIX = "exhibitions/"

_ORIGINAL = re.compile(r"^originals/sha256/[0-9a-f]{2}/(?P<sha>[0-9a-f]{64})$")
_DERIVATIVE = re.compile(r"^derivatives/(?P<media_id>\d+)/[^/]+$")
_IIIF_CACHE = re.compile(r"^iiif/(?P<story_id>\d+)/(?P<media_id>\d+)/(?P<variant>[0-9a-f]+)/.+$")
#: How the characters IIIF paths use but object keys may not are spelled in a cache key.
_IIIF_SPELLING = str.maketrans({",": "_", "!": "m", "^": "up", ":": "-"})


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


def iiif_cache_prefix(story_id: int) -> str:
    """The folder of every IIIF image cached for one story (dropped when it stops being public)."""
    return f"{IIIF_CACHE_PREFIX}{story_id}/"


def iiif_cache_variant(derivatives: dict) -> str:
    """A short name for one set of recorded derivatives: cached images cut from another set (before
    a re-derivation) stop being referenced. Stable across processes (no ``hash()``)."""
    text = json.dumps(derivatives or {}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def iiif_cache_key(story_id: int, media_id: int, variant: str, request_path: str) -> str:
    """Where the image for the canonical IIIF request ``region/size/rotation/quality.format`` of
    media ``media_id`` is cached (commas, ``!`` and ``^`` are respelled for object keys)."""
    return f"{iiif_cache_prefix(story_id)}{media_id}/{variant}/" + request_path.translate(
        _IIIF_SPELLING
    )


def iiif_cache_owner(key: str) -> tuple[int, int, str] | None:
    """``(story id, media id, variant)`` a cached IIIF image's key names, or ``None``."""
    match = _IIIF_CACHE.match(key)
    if not match:
        return None
    return int(match["story_id"]), int(match["media_id"]), match["variant"]


def exhibition_prefix(collection_id: int) -> str:
    """The folder of every PDF made for one collection's exhibition (old ones are removed)."""
    return f"{EXHIBITIONS_PREFIX}{collection_id}/"


def exhibition_key(collection_id: int, fingerprint: str, fmt: str) -> str:
    """Where the exhibition of ``collection_id`` in format ``fmt`` (``panels``, ``booklet``) made
    from the content with ``fingerprint`` lives."""
    return f"{exhibition_prefix(collection_id)}{fingerprint}/{fmt}.pdf"
