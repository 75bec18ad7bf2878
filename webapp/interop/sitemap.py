"""Sitemaps (sitemaps.org 0.9): published stories, collections and places, for search engines.

Built as lxml trees. One ``urlset`` while the site has at most :data:`MAX_URLS` addresses; past
that, ``/sitemap.xml`` is a sitemap index of story pages of :data:`MAX_URLS` each plus one for
the other pages, as the protocol's limit (50,000 addresses a file) requires.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from webapp.interop.xmltext import xml_text

NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
#: Addresses in one sitemap file (the protocol's maximum).
MAX_URLS = 50_000


@dataclass(frozen=True)
class Address:
    location: str
    changed_at: datetime | None = None


def _w3c(moment: datetime) -> str:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def urlset(addresses: Iterable[Address]) -> bytes:
    root = etree.Element(f"{{{NS}}}urlset", nsmap={None: NS})
    for address in addresses:
        url = etree.SubElement(root, f"{{{NS}}}url")
        etree.SubElement(url, f"{{{NS}}}loc").text = xml_text(address.location)
        if address.changed_at is not None:
            etree.SubElement(url, f"{{{NS}}}lastmod").text = _w3c(address.changed_at)
    return _serialise(root)


def index(sitemaps: Iterable[Address]) -> bytes:
    root = etree.Element(f"{{{NS}}}sitemapindex", nsmap={None: NS})
    for address in sitemaps:
        entry = etree.SubElement(root, f"{{{NS}}}sitemap")
        etree.SubElement(entry, f"{{{NS}}}loc").text = xml_text(address.location)
        if address.changed_at is not None:
            etree.SubElement(entry, f"{{{NS}}}lastmod").text = _w3c(address.changed_at)
    return _serialise(root)
