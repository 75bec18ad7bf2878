"""Atom 1.0 feeds (RFC 4287) of newly published stories: the whole archive's and a collection's.

Built as lxml trees, every string through :func:`webapp.interop.xmltext.xml_text`. Entries are
only ever public stories (the caller selects them through the visibility rule); each entry's
``updated`` is the story's public datestamp, so feed readers see corrections.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from webapp.interop.xmltext import xml_text

NS = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml"
#: Entries in a feed: the newest publications.
FEED_LENGTH = 50
#: Characters of a story's text in an entry's summary.
SUMMARY_LENGTH = 500


@dataclass(frozen=True)
class Entry:
    url: str
    title: str
    language: str
    summary: str
    author: str
    published: datetime | None
    updated: datetime
    categories: list[str]
    rights: str


@dataclass(frozen=True)
class Feed:
    feed_url: str
    page_url: str
    title: str
    subtitle: str
    author: str
    entries: list[Entry]


def _stamp(moment: datetime) -> str:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _add(parent: etree._Element, name: str, text: str | None = None, **attributes: str):
    element = etree.SubElement(parent, f"{{{NS}}}{name}")
    for key, value in attributes.items():
        element.set(key, xml_text(value))
    if text is not None:
        element.text = xml_text(text)
    return element


def summary_of(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_LENGTH else text[: SUMMARY_LENGTH - 1].rstrip() + "…"


def render(feed: Feed, now: datetime) -> bytes:
    root = etree.Element(f"{{{NS}}}feed", nsmap={None: NS})
    _add(root, "id", feed.feed_url)
    _add(root, "title", feed.title)
    _add(root, "subtitle", feed.subtitle)
    _add(root, "updated", _stamp(max((e.updated for e in feed.entries), default=now)))
    _add(root, "link", rel="self", type=MEDIA_TYPE, href=feed.feed_url)
    _add(root, "link", rel="alternate", type="text/html", href=feed.page_url)
    author = _add(root, "author")
    _add(author, "name", feed.author)
    for entry in feed.entries:
        element = _add(root, "entry")
        _add(element, "id", entry.url)
        title = _add(element, "title", entry.title, type="text")
        title.set("{http://www.w3.org/XML/1998/namespace}lang", xml_text(entry.language))
        _add(element, "updated", _stamp(entry.updated))
        if entry.published is not None:
            _add(element, "published", _stamp(entry.published))
        _add(element, "link", rel="alternate", type="text/html", href=entry.url)
        entry_author = _add(element, "author")
        _add(entry_author, "name", entry.author)
        for term in entry.categories:
            _add(element, "category", term=term)
        summary = _add(element, "summary", entry.summary, type="text")
        summary.set("{http://www.w3.org/XML/1998/namespace}lang", xml_text(entry.language))
        _add(element, "rights", entry.rights, type="text")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
