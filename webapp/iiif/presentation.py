"""IIIF Presentation API 3.0: a manifest per published story, a collection per curated collection.

Shapes public stories for IIIF viewers (Mirador, Universal Viewer) the way ``webapp.presenters``
shapes them for the JSON API: the story's words stay in the story's language (language maps keyed
by its BCP 47 tag), field names are given in French and English, each image is a canvas painted
with the pre-built 1600 px JPEG and carrying its Image API service for deep zoom. This module is
handed stories that are already public (``webapp.services.iiif`` looks them up through the
visibility rule) and must never look anything up itself.
"""

from __future__ import annotations

from typing import Any

from babel import Locale, UnknownLocaleError
from flask import url_for

from webapp.iiif import rendering
from webapp.iiif.image_api import FORMATS, PROFILE
from webapp.licences import iiif_rights
from webapp.models import Collection, MediaAsset, MediaState, Story

PRESENTATION_CONTEXT = "http://iiif.io/api/presentation/3/context.json"

#: Field names in the two interface languages (language maps, not the visitor's locale: a
#: manifest is one document for every reader).
FIELD_NAMES = {
    "places": {"en": ["Places"], "fr": ["Lieux"]},
    "period": {"en": ["Period"], "fr": ["Période"]},
    "themes": {"en": ["Themes"], "fr": ["Thèmes"]},
    "language": {"en": ["Language"], "fr": ["Langue"]},
    "organisation": {"en": ["Contributed by"], "fr": ["Contribué par"]},
    "contributor": {"en": ["Told by"], "fr": ["Raconté par"]},
    "published": {"en": ["Published"], "fr": ["Publié le"]},
    "licence": {"en": ["Licence"], "fr": ["Licence"]},
    "attribution": {"en": ["Attribution"], "fr": ["Attribution"]},
    "image": {"en": ["Image"], "fr": ["Image"]},
    "institution": {"en": ["Holding institution"], "fr": ["Institution de conservation"]},
    "reference": {"en": ["Call number"], "fr": ["Cote"]},
    "fonds": {"en": ["Fonds or series"], "fr": ["Fonds ou série"]},
    "producer": {"en": ["Producer"], "fr": ["Producteur"]},
}

SUMMARY_LENGTH = 500


def manifest_url(story_id: int) -> str:
    return url_for("iiif.manifest", story_id=story_id, _external=True)


def has_manifest(story: Story) -> bool:
    """A public story with at least one ready image (a manifest needs a canvas)."""
    return story.is_public and any(_shown(m) for m in story.media)


def manifest_url_if_any(story: Story) -> str | None:
    """The manifest URL of ``story``, or ``None`` when it has no manifest."""
    return manifest_url(story.id) if has_manifest(story) else None


def image_service_url(media_id: int) -> str:
    """The Image API base URI of an image: ``<it>/info.json`` describes it."""
    return url_for("iiif.image_base", media_id=media_id, _external=True)


def collection_url(slug: str) -> str:
    return url_for("iiif.collection", slug=slug, _external=True)


def manifest(story: Story) -> dict[str, Any]:
    """The manifest of a public story: one canvas per ready image, in the story's order."""
    language = story.language or "none"
    own = _text(language)
    url = manifest_url(story.id)
    media = [m for m in story.media if _shown(m)]
    document: dict[str, Any] = {
        "@context": PRESENTATION_CONTEXT,
        "id": url,
        "type": "Manifest",
        "label": own(story.title),
    }
    summary = _summary(story)
    if summary:
        document["summary"] = own(summary)
    document["metadata"] = _metadata(story)
    document["requiredStatement"] = _required_statement(_credit(story), story.licence)
    if rights := iiif_rights(story.licence):
        document["rights"] = rights
    document["homepage"] = [
        {
            "id": url_for("public.story", story_id=story.id, _external=True),
            "type": "Text",
            "label": own(story.title),
            "format": "text/html",
            "language": [story.language],
        }
    ]
    if media:
        document["thumbnail"] = _thumbnail(media[0])
    document["items"] = [_canvas(url, n, m, story) for n, m in enumerate(media, start=1)]
    return document


def collection(record: Collection, stories: list[Story]) -> dict[str, Any]:
    """The IIIF collection of a curated collection: its public stories' manifests, in order."""
    document: dict[str, Any] = {
        "@context": PRESENTATION_CONTEXT,
        "id": collection_url(record.slug),
        "type": "Collection",
        "label": {"none": [record.title]},
    }
    introduction = " ".join((record.introduction or "").split())
    if introduction:
        document["summary"] = {"none": [_shorten(introduction)]}
    document["homepage"] = [
        {
            "id": url_for("public.collection", slug=record.slug, _external=True),
            "type": "Text",
            "label": {"none": [record.title]},
            "format": "text/html",
        }
    ]
    document["items"] = [_manifest_reference(story) for story in stories if has_manifest(story)]
    return document


def collections_index(records: list[Collection]) -> dict[str, Any]:
    """The top collection: every published curated collection."""
    return {
        "@context": PRESENTATION_CONTEXT,
        "id": url_for("iiif.collections", _external=True),
        "type": "Collection",
        "label": {"en": ["Passages: collections"], "fr": ["Passages : collections"]},
        "items": [
            {"id": collection_url(r.slug), "type": "Collection", "label": {"none": [r.title]}}
            for r in records
        ],
    }


# --- parts ---------------------------------------------------------------------------------------


def _shown(media: MediaAsset) -> bool:
    return media.state == MediaState.READY.value and bool(media.width and media.height)


def _text(language: str):
    def in_language(value: str) -> dict[str, list[str]]:
        return {language: [value]}

    return in_language


def _summary(story: Story) -> str:
    text = (story.extra or {}).get("summary") or story.body or ""
    return _shorten(" ".join(text.split()))


def _shorten(text: str) -> str:
    if len(text) <= SUMMARY_LENGTH:
        return text
    return text[: SUMMARY_LENGTH - 1].rsplit(" ", 1)[0] + "…"


def _credit(story: Story) -> str:
    extra = story.extra or {}
    if extra.get("credit"):
        return extra["credit"]
    if story.organisation is not None:
        return story.organisation.name
    return "Passages"


def _required_statement(credit: str, licence: str) -> dict[str, Any]:
    return {"label": FIELD_NAMES["attribution"], "value": {"none": [f"{credit} — {licence}"]}}


def _language_names(tag: str) -> dict[str, list[str]]:
    names = {}
    for interface in ("en", "fr"):
        try:
            name = Locale.parse(tag, sep="-").get_display_name(interface)
        except (ValueError, TypeError, UnknownLocaleError):
            name = None
        names[interface] = [name or tag]
    return names


def _metadata(story: Story) -> list[dict[str, Any]]:
    own = _text(story.language or "none")
    entries: list[tuple[str, dict[str, list[str]]]] = []
    if story.is_document:  # an archive document: where the original is kept, first
        for name in ("institution", "reference", "fonds", "producer"):
            if value := getattr(story, f"source_{name}"):
                entries.append((name, {"none": [value]}))
    if story.places:
        entries.append(("places", {"none": [", ".join(story.places)]}))
    if story.period:
        entries.append(("period", {"none": [story.period]}))
    if story.themes:
        entries.append(("themes", own(", ".join(story.themes))))
    entries.append(("language", _language_names(story.language)))
    if story.organisation is not None:
        entries.append(("organisation", {"none": [story.organisation.name]}))
    if (story.extra or {}).get("contributor_name"):
        entries.append(("contributor", {"none": [story.extra["contributor_name"]]}))
    if story.published_at is not None:
        entries.append(("published", {"none": [story.published_at.date().isoformat()]}))
    entries.append(("licence", {"none": [story.licence]}))
    return [{"label": FIELD_NAMES[name], "value": value} for name, value in entries]


def _service(media: MediaAsset) -> list[dict[str, Any]]:
    return [{"id": image_service_url(media.id), "type": "ImageService3", "profile": PROFILE}]


def _thumbnail(media: MediaAsset) -> list[dict[str, Any]]:
    """The 256 px derivative through the Image API (served as stored, no decoding)."""
    stored = {d.name: d for d in rendering.stored_derivatives(media.derivatives)}
    thumb = stored.get("thumb") or stored.get("medium")
    if thumb is None or thumb.format not in FORMATS:
        return []
    base = image_service_url(media.id)
    return [
        {
            "id": f"{base}/full/{thumb.width},{thumb.height}/0/default.{thumb.format}",
            "type": "Image",
            "format": FORMATS[thumb.format],
            "width": thumb.width,
            "height": thumb.height,
            "service": _service(media),
        }
    ]


def _painting_body(media: MediaAsset) -> dict[str, Any]:
    """The image a viewer without Image API support shows: the pre-built 1600 px JPEG (served as
    stored); viewers that read the service zoom from there to full resolution."""
    stored = {d.name: d for d in rendering.stored_derivatives(media.derivatives)}
    download = stored.get("download")
    base = image_service_url(media.id)
    width, height = (download.width, download.height) if download else (media.width, media.height)
    return {
        "id": f"{base}/full/{width},{height}/0/default.jpg",
        "type": "Image",
        "format": FORMATS["jpg"],
        "width": width,
        "height": height,
        "service": _service(media),
    }


def _canvas(manifest_id: str, n: int, media: MediaAsset, story: Story) -> dict[str, Any]:
    base = manifest_id.rsplit("/", 1)[0]
    canvas_id = f"{base}/canvas/{n}"
    label = (
        _text(story.language or "none")(media.alt_text)
        if media.alt_text
        else {"en": [f"Image {n}"], "fr": [f"Image {n}"]}
    )
    canvas: dict[str, Any] = {
        "id": canvas_id,
        "type": "Canvas",
        "label": label,
        "width": media.width,
        "height": media.height,
        "thumbnail": _thumbnail(media),
        "items": [
            {
                "id": f"{canvas_id}/page",
                "type": "AnnotationPage",
                "items": [
                    {
                        "id": f"{canvas_id}/page/image",
                        "type": "Annotation",
                        "motivation": "painting",
                        "body": _painting_body(media),
                        "target": canvas_id,
                    }
                ],
            }
        ],
    }
    if not canvas["thumbnail"]:
        del canvas["thumbnail"]
    if media.licence or media.credit:  # this image's own terms differ from the story's
        licence = media.licence or story.licence
        canvas["requiredStatement"] = _required_statement(media.credit or _credit(story), licence)
        if rights := iiif_rights(licence):
            canvas["rights"] = rights
    return canvas


def _manifest_reference(story: Story) -> dict[str, Any]:
    reference: dict[str, Any] = {
        "id": manifest_url(story.id),
        "type": "Manifest",
        "label": _text(story.language or "none")(story.title),
    }
    media = [m for m in story.media if _shown(m)]
    if media and (thumbnail := _thumbnail(media[0])):
        reference["thumbnail"] = thumbnail
    return reference
