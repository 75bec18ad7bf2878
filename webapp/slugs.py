"""Readable URL parts ("slugs") made from titles and names, for every page that has one.

A slug only decorates a URL; the permanent id beside it identifies the record. Letters of every
script are kept (an Arabic title gives an Arabic slug), accents and case are folded.
"""

from __future__ import annotations

import re

from webapp.textfold import fold


def slugify(text: str, max_length: int = 80) -> str:
    return re.sub(r"[^\w]+", "-", fold(text or "")).strip("-")[:max_length].rstrip("-")
