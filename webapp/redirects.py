"""Where a ``next=`` parameter may send a visitor: only to a path on this site.

Every view that reads a return address (``/login``, ``/language/<code>``) asks
``safe_next_path``. The check works on what a browser would do with the value, not on how it
looks: browsers drop tabs and newlines anywhere in a URL, strip leading control characters and
spaces, read ``\\`` as ``/`` and fold some Unicode look-alikes, so ``/\\evil.example``,
``/%09/evil.example`` or ``／／evil.example`` all leave the site. Rather than imitate every
browser, anything that is not a plain, printable, ASCII-normal relative path is refused and the
caller falls back to its default page. This module never builds an absolute URL and never
trusts the Host header.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

#: Longer return addresses are refused outright (a link in a page never needs more).
MAX_NEXT_LENGTH = 2000


def safe_next_path(target: str | None) -> str | None:
    """``target`` if it is a same-site relative path (``/…`` but not ``//…``), else ``None``.

    ``target`` is the value as Flask decoded it from the query string (one level of
    percent-decoding done). It is refused when it:

    - is empty, too long, or not a string;
    - contains a control character, any whitespace, a backslash, or a character that Unicode
      compatibility normalisation would change (full-width ``／``, ``﹨``, ligatures…);
    - does not start with exactly one ``/``, or has a scheme or a host once parsed;
    - has a path part (before ``?``/``#``) that, percent-decoded once more, would fail the
      same checks (``/%2F%2Fevil.example``, ``/%5Cevil.example``), so a value decoded twice on
      its way (a proxy, a second redirect) is still safe. The query part may keep its own
      percent-escapes (``/search?q=a%20b``).
    """
    if not isinstance(target, str) or not target or len(target) > MAX_NEXT_LENGTH:
        return None
    path = target.split("?", 1)[0].split("#", 1)[0]
    if not _plain_relative_path(target) or not _plain_relative_path(unquote(path)):
        return None
    return target


def _plain_relative_path(value: str) -> bool:
    if any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in value):
        return False  # control, format (zero-width, bidi), unassigned, private use, whitespace
    if "\\" in value or unicodedata.normalize("NFKC", value) != value:
        return False
    if not value.startswith("/") or value.startswith("//"):
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc
