"""Sitemaps and Atom feeds: ``/sitemap.xml`` (and its parts) and ``/feeds/…​.atom``.

Views ask ``webapp.services.catalog`` for public stories, collections and places (the one
visibility rule is applied there) and ``webapp.interop`` builds the XML. Answers are public,
revalidated by ETag, and kept in the page cache (``webapp.page_cache``) between changes.
"""

from __future__ import annotations

import math

from flask import Blueprint, Response, abort, request, url_for
from flask_babel import gettext as _

from webapp import freshness, page_cache
from webapp.interop import atom, schemaorg, sitemap
from webapp.licences import deed_url
from webapp.models import Story, utcnow
from webapp.services import catalog
from webapp.services import collections as collection_service

bp = Blueprint("syndication", __name__)


def _xml(body: bytes, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    freshness.keep_briefly(response)  # a withdrawn story leaves feed readers' proxies quickly
    response.add_etag()
    return response.make_conditional(request)


def _story_addresses(offset: int, limit: int) -> list[sitemap.Address]:
    return [
        sitemap.Address(url_for("public.story", story_id=s.story_id, _external=True), s.changed_at)
        for s in catalog.public_stories_dated(offset, limit)
    ]


def _other_addresses() -> list[sitemap.Address]:
    addresses = [
        sitemap.Address(url_for("public.home", _external=True)),
        sitemap.Address(url_for("public.collections", _external=True)),
        sitemap.Address(url_for("public.place_list", _external=True)),
    ]
    addresses += [
        sitemap.Address(
            url_for("public.collection", slug=c.record.slug, _external=True), c.changed_at
        )
        for c in catalog.public_collections()
    ]
    addresses += [
        sitemap.Address(url_for("public.place", slug=p.record.slug, _external=True), p.changed_at)
        for p in catalog.public_places()
        if p.stories
    ]
    return addresses


@bp.get("/sitemap.xml")
@page_cache.cached_page()
def sitemap_xml():
    stories = catalog.count_public_stories()
    others = _other_addresses()
    if stories + len(others) <= sitemap.MAX_URLS:
        body = sitemap.urlset([*others, *_story_addresses(0, sitemap.MAX_URLS)])
        return _xml(body, "application/xml")
    parts = [sitemap.Address(url_for("syndication.sitemap_pages", _external=True))]
    parts += [
        sitemap.Address(url_for("syndication.sitemap_stories", number=n, _external=True))
        for n in range(1, math.ceil(stories / sitemap.MAX_URLS) + 1)
    ]
    return _xml(sitemap.index(parts), "application/xml")


@bp.get("/sitemaps/pages.xml")
@page_cache.cached_page()
def sitemap_pages():
    return _xml(sitemap.urlset(_other_addresses()), "application/xml")


@bp.get("/sitemaps/stories-<int:number>.xml")
@page_cache.cached_page()
def sitemap_stories(number: int):
    # Check the page against the count first: a huge number's offset overflows the database's
    # integers, and any page past the last is simply not there.
    pages = math.ceil(catalog.count_public_stories() / sitemap.MAX_URLS)
    if not 1 <= number <= pages:
        abort(404)
    addresses = _story_addresses((number - 1) * sitemap.MAX_URLS, sitemap.MAX_URLS)
    if not addresses:
        abort(404)
    return _xml(sitemap.urlset(addresses), "application/xml")


def _entries(stories: list[Story]) -> list[atom.Entry]:
    changes = catalog.changed_at_of_stories([s.id for s in stories])
    entries = []
    for story in stories:
        extra = story.extra or {}
        organisation = story.organisation.name if story.organisation else "Passages"
        author = extra.get("credit") or organisation
        rights = story.licence + (f" ({uri})" if (uri := deed_url(story.licence)) else "")
        entries.append(
            atom.Entry(
                url=url_for("public.story", story_id=story.id, _external=True),
                title=story.title,
                language=story.language,
                summary=atom.summary_of(extra.get("summary") or story.body or story.title),
                author=author,
                published=story.published_at,
                updated=changes.get(story.id) or story.published_at or utcnow(),
                categories=list(story.themes or []),
                rights=rights,
            )
        )
    return entries


@bp.get("/feeds/stories.atom")
@page_cache.cached_page()
def stories_feed():
    feed = atom.Feed(
        feed_url=url_for("syndication.stories_feed", _external=True),
        page_url=url_for("public.home", _external=True),
        title=_("Passages — newly published stories"),
        subtitle=_("Stories of migration, published by the archive"),
        author="Passages",
        entries=_entries(catalog.newest_published(atom.FEED_LENGTH)),
    )
    return _xml(atom.render(feed, utcnow()), atom.MEDIA_TYPE)


@bp.get("/feeds/collections/<slug>.atom")
@page_cache.cached_page()
def collection_feed(slug: str):
    collection = collection_service.get_public_collection(slug)
    feed = atom.Feed(
        feed_url=url_for("syndication.collection_feed", slug=slug, _external=True),
        page_url=url_for("public.collection", slug=slug, _external=True),
        title=_("Passages — %(collection)s", collection=collection.title),
        subtitle=_(
            "Stories newly published in the collection %(collection)s", collection=collection.title
        ),  # fmt: skip
        author="Passages",
        entries=_entries(catalog.newest_published(atom.FEED_LENGTH, collection)),
    )
    return _xml(atom.render(feed, utcnow()), atom.MEDIA_TYPE)


@bp.app_template_global("story_jsonld")
def story_jsonld(story: Story, collections: list) -> dict | None:
    """Schema.org data for a story page (``story.html`` embeds it with ``tojson``)."""
    return schemaorg.story_jsonld(story, collections)
