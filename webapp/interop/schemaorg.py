"""Schema.org JSON-LD for a public story page (``CreativeWork`` and ``ArchiveComponent``).

The page embeds it in ``<script type="application/ld+json">`` through Jinja's ``tojson``
filter, which escapes ``<``, ``>``, ``&`` and ``'``: a title holding ``</script>`` cannot end
the block. Only public facts of a public story go in; nothing is built for any other story.
"""

from __future__ import annotations

from typing import Any

from flask import url_for

from webapp.licences import deed_url
from webapp.models import Collection, MediaState, Story
from webapp.services import documents, publication

#: The largest derivative a search engine is pointed at, best first.
IMAGE_DERIVATIVES = ("download", "large")


def story_jsonld(story: Story, collections: list[Collection]) -> dict[str, Any] | None:
    """The story as Schema.org data, or ``None`` when it is not public."""
    if not story.is_public:
        return None
    url = url_for("public.story", story_id=story.id, _external=True)
    home = url_for("public.home", _external=True)
    organisation = story.organisation
    extra = story.extra or {}
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": ["CreativeWork", "ArchiveComponent"],
        "@id": url,
        "url": url,
        "name": story.title,
        "inLanguage": story.language,
        "description": extra.get("summary") or " ".join((story.body or "").split())[:300],
        "keywords": list(story.themes or []),
        "license": deed_url(story.licence) or story.licence,
        "holdingArchive": {"@type": "ArchiveOrganization", "name": "Passages", "url": home},
        "isAccessibleForFree": True,
    }
    if organisation is not None:
        data["creator"] = data["publisher"] = {"@type": "Organization", "name": organisation.name}
    source = documents.provenance(story)
    if source is not None:
        # An archive document: held by its institution, under its call number.
        data["holdingArchive"] = {"@type": "ArchiveOrganization", "name": source.institution}
        data["identifier"] = source.reference
        data["citation"] = documents.citation(story)
        if source.producer:
            data["creator"] = {"@type": "Organization", "name": source.producer}
        if source.fonds:
            data["isPartOf"] = [{"@type": "ArchiveComponent", "name": source.fonds}]
    else:
        answered = documents.responded_documents(story)
        if answered:
            data["about"] = [
                {
                    "@type": "ArchiveComponent",
                    "name": d.title,
                    "url": url_for("public.story", story_id=d.id, _external=True),
                }
                for d in answered
            ]
    if extra.get("credit"):
        data["creditText"] = extra["credit"]
    if story.places:
        data["spatialCoverage"] = [{"@type": "Place", "name": p} for p in story.places]
    if story.period:
        data["temporalCoverage"] = story.period
    if story.published_at is not None:
        data["datePublished"] = story.published_at.date().isoformat()
    record = publication.get_record(story.id)
    if record is not None:
        data["dateModified"] = publication.changed_at_of(record).isoformat()
    if collections:
        data["isPartOf"] = data.get("isPartOf", []) + [
            {
                "@type": "Collection",
                "name": c.title,
                "url": url_for("public.collection", slug=c.slug, _external=True),
            }
            for c in collections
        ]
    images = []
    for media in story.media:
        if media.state != MediaState.READY.value:
            continue
        name = next((n for n in IMAGE_DERIVATIVES if n in (media.derivatives or {})), None)
        if name is None:
            continue
        entry = media.derivatives[name]
        images.append(
            {
                "@type": "ImageObject",
                "contentUrl": url_for(
                    "public.derivative", media_id=media.id, name=name, _external=True
                ),
                "width": entry.get("width"),
                "height": entry.get("height"),
                "caption": media.alt_text or None,
            }
        )
    if images:
        data["image"] = images
    return data
