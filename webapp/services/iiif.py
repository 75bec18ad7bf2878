"""What the IIIF APIs may serve, and the object-store cache of images made on demand.

Every image, manifest and collection is looked up through the one visibility rule
(``Story.is_public``): an image of a draft, withdrawn or erased story is "not found" whatever the
path, exactly like an id that never existed. The images viewers repeat — tiles of the
``info.json`` grid and its listed sizes — are cached in the object store under
``iiif/<story id>/…`` (``webapp.media.keys``), so they never decode twice; any other answer is
made on demand and not stored, so no client can grow the store by varying sizes. That cache
never outlives the story's publication: :func:`purge_story_cache` drops it when a story is
withdrawn or erased (the ``story.withdrawn``/``story.erased`` jobs and the erasure's
first try call it), an image made while its story was being withdrawn is dropped by the request
itself (:func:`_keep_only_if_still_public`), and the leftover collector removes any cached image
whose story is not public or whose derivatives changed. This module never commits and never
writes anything but cache objects.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext

from storage import ObjectNotFound, ObjectStore
from webapp import reasons
from webapp.errors import NotFound, PassagesError, PayloadTooLarge
from webapp.extensions import db
from webapp.iiif import image_api, rendering
from webapp.iiif.image_api import ImageRequest, Limits
from webapp.iiif.presentation import has_manifest
from webapp.licences import iiif_rights
from webapp.media.imaging import ImageTooLarge, InvalidImage
from webapp.media.keys import iiif_cache_key, iiif_cache_prefix, iiif_cache_variant
from webapp.models import Collection, MediaAsset, MediaKind, MediaState, Story
from webapp.services import backends
from webapp.services import collections as collection_service
from webapp.services.visibility import public_stories

log = logging.getLogger(__name__)

#: The largest image served in one response (``maxWidth``/``maxHeight``/``maxArea``): deeper
#: detail comes as tiles. 4096² is ~50 MB of RGB while it is encoded.
LIMITS = Limits(max_width=4096, max_height=4096, max_area=4096 * 4096)
#: Cache objects written at the same time when a whole zoom level is stored (fsync or S3 latency
#: dominates: 96 tiles take 1 s one by one on the local store, 0.3 s eight at a time).
CACHE_WRITERS = 8


class ImageUnavailable(PassagesError):
    """The original of a published image cannot be cut (damaged): the derivatives still serve."""

    status = 422
    code = "image_unavailable"


@dataclass(frozen=True)
class PublicImage:
    """A ready image of a public story, with what rendering and the cache need."""

    media_id: int
    story_id: int
    width: int
    height: int
    original_key: str
    jpeg: bool
    derivatives: list[rendering.StoredDerivative]
    variant: str
    licence: str


@dataclass(frozen=True)
class RenderedImage:
    """The bytes of one answer; ``source`` says where they came from (``derivative``: stored as
    is; ``cache``: made earlier; ``made``: made now from a derivative; ``original``: cut now)."""

    data: bytes
    media_type: str
    canonical: str
    source: str


def public_image(media_id: int) -> PublicImage:
    """The image ``media_id`` if its story is public and it is ready; else :class:`NotFound`."""
    row = db.session.execute(
        db.select(MediaAsset, Story.licence)
        .join(Story, MediaAsset.story_id == Story.id)
        .where(
            MediaAsset.id == media_id,
            MediaAsset.kind == MediaKind.IMAGE.value,
            Story.is_public,
            MediaAsset.state == MediaState.READY.value,
        )
    ).first()
    if row is None or not row[0].width or not row[0].height:
        raise NotFound(gettext("no published image has this id"))
    media, story_licence = row
    return PublicImage(
        media_id=media.id,
        story_id=media.story_id,
        width=media.width,
        height=media.height,
        original_key=media.original_key,
        jpeg=media.mime_type == "image/jpeg",
        derivatives=rendering.stored_derivatives(media.derivatives),
        variant=iiif_cache_variant(media.derivatives),
        licence=media.licence or story_licence,
    )


def image_info(image: PublicImage, image_id: str) -> dict[str, Any]:
    """The ``info.json`` of ``image``, whose service is at ``image_id``."""
    smallest = rendering.smallest_scale_factor(
        image.width, image.height, image.jpeg, rendering.MAX_DECODED_PIXELS
    )
    if smallest == 0:  # too large to cut from the original: only the derivatives' detail
        widest = max((max(d.width, d.height) for d in image.derivatives), default=1)
        smallest = 1
        while max(image.width, image.height) / smallest > widest:
            smallest *= 2
    return image_api.info_document(
        image_id,
        image.width,
        image.height,
        limits=LIMITS,
        sizes=rendering.derivative_sizes(image.derivatives),
        smallest_scale_factor=smallest,
        rights=iiif_rights(image.licence),
    )


def render_image(
    image: PublicImage, region: str, size: str, rotation: str, quality_format: str
) -> RenderedImage:
    """Answer one Image API request: stored derivative, cached image, or made now (and cached only
    when it is a grid tile or a listed size).

    Raises ``image_api.ImageRequestError`` for a malformed request (400), ``PayloadTooLarge``
    when the detail asked for cannot be cut within the memory budget (413).
    """
    request = image_api.parse_image_request(
        region, size, rotation, quality_format,
        width=image.width, height=image.height, limits=LIMITS,
    )  # fmt: skip
    store = backends.object_store()
    chosen = rendering.plan(request, image.width, image.height, image.derivatives)
    if chosen.passthrough and chosen.source is not None:
        try:
            data = store.get(chosen.source.key)
            return RenderedImage(data, request.media_type, request.canonical, "derivative")
        except ObjectNotFound:
            log.warning("media %s: derivative %s missing", image.media_id, chosen.source.key)
    factor = rendering.grid_factor(request, image.width, image.height)
    if factor is None and not _is_listed_size(image, request):
        # Any other answer is made now and not stored: a client could otherwise fill the
        # store with one object per size it cares to ask for.
        data, source = _make(image, request, chosen.source, store)
        return RenderedImage(data, request.media_type, request.canonical, source)
    key = iiif_cache_key(image.story_id, image.media_id, image.variant, request.canonical)
    try:
        return RenderedImage(store.get(key), request.media_type, request.canonical, "cache")
    except ObjectNotFound:
        pass
    if factor is not None:
        return _render_level(image, request, factor, chosen.source, key, store)
    data, source = _make(image, request, chosen.source, store)
    _cache(image, {key: (data, request.media_type)}, store)
    return RenderedImage(data, request.media_type, request.canonical, source)


def _is_listed_size(image: PublicImage, request: ImageRequest) -> bool:
    """Whether ``request`` is a size ``info.json`` lists (whole image, upright), in any quality
    or format: with the tile grid, the only answers viewers repeat, so the only ones cached —
    which bounds the cache by design."""
    sizes = rendering.derivative_sizes(image.derivatives)
    listed = image_api.listed_sizes(image.width, image.height, limits=LIMITS, sizes=sizes)
    return (
        request.region.full
        and request.rotation == 0
        and not request.mirror
        and (request.width, request.height) in listed
    )


_level_locks: dict[tuple, threading.Lock] = {}
_level_locks_guard = threading.Lock()


def _render_level(
    image: PublicImage,
    request: ImageRequest,
    factor: int,
    source: rendering.StoredDerivative | None,
    key: str,
    store: ObjectStore,
) -> RenderedImage:
    """A tile of the ``info.json`` grid: cut its whole zoom level from one decode of its source
    (the derivative that covers it, else the original) and cache every tile of it.

    A viewer asks for a viewport's tiles at once; the first request of a level takes the level's
    lock and builds it, the others wait for it and then read their tile from the cache. For a
    deep level this is what makes zooming affordable: one decode of a 24 MP original instead of
    one per tile.
    """
    like = (image.media_id, image.variant, factor, request.rotation, request.mirror,
            request.quality, request.format)  # fmt: skip
    with _level_locks_guard:
        lock = _level_locks.setdefault(like, threading.Lock())
    with lock:
        try:
            return _build_level(image, request, factor, source, key, store)
        finally:
            with _level_locks_guard:
                _level_locks.pop(like, None)


def _build_level(
    image: PublicImage,
    request: ImageRequest,
    factor: int,
    source: rendering.StoredDerivative | None,
    key: str,
    store: ObjectStore,
) -> RenderedImage:
    try:  # built by the request that held the lock before this one
        return RenderedImage(store.get(key), request.media_type, request.canonical, "cache")
    except ObjectNotFound:
        pass
    tiles = rendering.grid_tiles(factor, image.width, image.height, request)
    made: dict[str, tuple[bytes, str]] = {}
    answer = b""
    for tile, data in _level_tiles(image, factor, tiles, source, store):
        tile_key = iiif_cache_key(image.story_id, image.media_id, image.variant, tile.canonical)
        made[tile_key] = (data, tile.media_type)
        if tile_key == key:
            answer = data
    _cache(image, made, store)
    origin = "made" if source is not None else "original"
    log.info("media %s: %d tiles cut at 1/%d from the %s", image.media_id, len(made), factor,
             source.name if source else "original")  # fmt: skip
    return RenderedImage(answer, request.media_type, request.canonical, origin)


def _level_tiles(
    image: PublicImage,
    factor: int,
    tiles: list[ImageRequest],
    source: rendering.StoredDerivative | None,
    store: ObjectStore,
) -> list[tuple[ImageRequest, bytes]]:
    if source is not None:
        try:
            data = store.get(source.key)
        except ObjectNotFound:
            log.warning("media %s: derivative %s missing; using the original", image.media_id,
                        source.key)  # fmt: skip
        else:
            return list(rendering.render_level_from_derivative(
                data, source, tiles, image.width, image.height
            ))  # fmt: skip
    settings = backends.settings()
    with _refusals_explained(image):
        return rendering.render_level_from_original(
            store.get(image.original_key), factor, tiles, image.width, image.height,
            max_pixels=settings.max_image_pixels,
            max_decoded_pixels=rendering.MAX_DECODED_PIXELS,
        )  # fmt: skip


def _cache(image: PublicImage, objects: dict[str, tuple[bytes, str]], store: ObjectStore) -> None:
    """Write what was made; a cache that cannot be written only makes the next request slower."""
    try:
        if len(objects) == 1:
            ((key, (data, media_type)),) = objects.items()
            store.put(key, data, content_type=media_type)
        else:  # a level's tiles: each put waits on the disk or the network, so overlap them
            with ThreadPoolExecutor(max_workers=CACHE_WRITERS) as pool:
                list(pool.map(lambda item: store.put(item[0], item[1][0], item[1][1]),
                              objects.items()))  # fmt: skip
        _keep_only_if_still_public(image, list(objects), store)
    except Exception:  # noqa: BLE001
        log.warning("media %s: could not cache %d image(s)", image.media_id, len(objects),
                    exc_info=True)  # fmt: skip


def _make(
    image: PublicImage,
    request: ImageRequest,
    source: rendering.StoredDerivative | None,
    store: ObjectStore,
) -> tuple[bytes, str]:
    if source is not None:
        try:
            stored = store.get(source.key)
        except ObjectNotFound:
            log.warning("media %s: derivative %s missing; using the original", image.media_id,
                        source.key)  # fmt: skip
        else:
            return rendering.render_from_derivative(
                stored, source, request, image.width, image.height
            ), "made"
    settings = backends.settings()
    with _refusals_explained(image):
        data = rendering.render_from_original(
            store.get(image.original_key),
            request,
            max_pixels=settings.max_image_pixels,
            max_decoded_pixels=rendering.MAX_DECODED_PIXELS,
        )
    return data, "original"


@contextmanager
def _refusals_explained(image: PublicImage) -> Iterator[None]:
    """An original that cannot be cut becomes an answer a client understands (413 or 422)."""
    try:
        yield
    except ImageTooLarge as exc:
        raise PayloadTooLarge(
            gettext(
                "this detail of the image cannot be made on demand (%(reason)s); "
                "ask for a smaller size or a larger region",
                reason=reasons.words(reasons.of(exc)),
            )
        ) from exc
    except InvalidImage as exc:
        log.warning("media %s: original cannot be cut: %s", image.media_id, exc.reason)
        raise ImageUnavailable(
            gettext("this detail of the image cannot be made; smaller sizes are still served")
        ) from exc


def _keep_only_if_still_public(image: PublicImage, keys: list[str], store: ObjectStore) -> None:
    """Drop the images just cached if their story stopped being public while they were made.

    The withdrawal's purge may have listed the cache before this object existed; asking again
    after writing (on a fresh transaction, so a withdrawal committed meanwhile is seen) closes
    that window.
    """
    db.session.rollback()  # read-only so far: end the snapshot, see what committed meanwhile
    public = db.session.scalar(
        db.select(Story.id).where(Story.id == image.story_id, Story.is_public)
    )
    if public is None:
        for key in keys:
            store.delete(key)
        log.info("media %s: story %s left publication; cached images dropped", image.media_id,
                 image.story_id)  # fmt: skip


def purge_story_cache(story_id: int, store: ObjectStore | None = None) -> int:
    """Delete every IIIF image cached for ``story_id`` unless it is public; return how many.

    Idempotent: called by the withdrawal's and the erasure's jobs (retried by RQ when the store
    is unreachable) and by the erasure's first try. A story published again meanwhile keeps its
    cache.
    """
    public = db.session.scalar(db.select(Story.id).where(Story.id == story_id, Story.is_public))
    if public is not None:
        return 0
    store = store or backends.object_store()
    deleted = 0
    for info in list(store.list(iiif_cache_prefix(story_id))):
        store.delete(info.key)
        deleted += 1
    if deleted:
        log.info("story %s: %d cached IIIF image(s) deleted", story_id, deleted)
    return deleted


# --- presentation -------------------------------------------------------------------------------


def public_story(story_id: int) -> Story:
    """The story ``story_id`` if it is public and has an image to show; else :class:`NotFound`
    (a manifest needs at least one canvas)."""
    story = db.session.scalar(public_stories().where(Story.id == story_id))
    if story is None or not has_manifest(story):
        raise NotFound(gettext("no published story with images has this id"))
    return story


def public_collection(slug: str) -> tuple[Collection, list[Story]]:
    """A published collection and its public stories, in the archivist's order."""
    collection = collection_service.get_public_collection(slug)
    stories = db.session.scalars(collection_service.public_items_query(collection)).all()
    return collection, list(stories)


def public_collections() -> list[Collection]:
    """Every published collection, newest first."""
    return list(db.session.scalars(collection_service.public_collections_query()))
