"""The licences a story may carry, and the address of each one's terms.

One table for every place that names a licence — the story page's link, OAI-PMH ``dc:rights``,
Schema.org ``license``, Atom ``rights``, exports and the IIIF ``rights`` property — so that a
licence added to ``schemas/story.schema.json`` is named the same way everywhere. IIIF is the
odd one: its specification accepts Creative Commons URIs only in their ``http://`` form and has
no Creative Commons URI for "all rights reserved" (RightsStatements.org's "In Copyright" is the
one it accepts), hence the second function.
"""

from __future__ import annotations

from schemas import load_schema

#: The licence codes the story schema accepts, in its order.
CODES: tuple[str, ...] = tuple(load_schema("story.schema.json")["properties"]["licence"]["enum"])

IN_COPYRIGHT = "http://rightsstatements.org/vocab/InC/1.0/"


def deed_url(code: str | None) -> str | None:
    """The Creative Commons deed a person reads (``https://``); ``None``: all rights reserved."""
    if code == "CC0-1.0":
        return "https://creativecommons.org/publicdomain/zero/1.0/"
    if code in CODES and code.startswith("CC-"):
        terms, _, version = code[3:].rpartition("-")
        return f"https://creativecommons.org/licenses/{terms.lower()}/{version}/"
    return None


def iiif_rights(code: str | None) -> str | None:
    """The URI IIIF's ``rights`` property accepts for a licence code, or ``None``."""
    if code == "all-rights-reserved":
        return IN_COPYRIGHT
    deed = deed_url(code)
    return deed.replace("https://", "http://", 1) if deed else None
