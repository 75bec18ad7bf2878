"""Turn the period a contributor writes ("1962", "1960s", "1962-1975", "~1962") into years.

Memories are approximate; we keep the text exactly as written and derive a start and end year
for sorting and decade facets. Never guess: text we cannot read is refused with an example of
what works.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import gettext
from flask_babel import lazy_gettext as _  # lazy, and found by pybabel extract

MIN_YEAR = 1000
MAX_YEAR = 2100

_YEAR = r"(\d{4})"
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"^{_YEAR}$"), "year"),
    (re.compile(rf"^{_YEAR}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?$"), "date"),
    (re.compile(rf"^{_YEAR}\s*(?:-|–|/|\.\.)\s*{_YEAR}$"), "range"),
    (re.compile(rf"^(?:années\s+)?{_YEAR}s?$|^{_YEAR}'?s$", re.IGNORECASE), "decade"),
    (re.compile(rf"^(?:~|ca\.?\s*|circa\s+|vers\s+|c\.\s*){_YEAR}$", re.IGNORECASE), "approx"),
]

#: How to write a period (translated where it is shown).
PERIOD_HELP = _(
    "write a year (1962), a date (1962-03-18), a range (1962-1975), "
    "a decade (1960s) or an approximate year (~1962)"
)


@dataclass(frozen=True)
class Period:
    text: str
    start: int
    end: int


def parse_period(text: str) -> Period:
    """Parse ``text``; raise ``ValueError`` with a helpful message when it cannot be read."""
    cleaned = " ".join(text.split())
    lowered = cleaned.lower()
    for pattern, kind in _PATTERNS:
        match = pattern.match(lowered)
        if not match:
            continue
        years = [int(g) for g in match.groups() if g and len(g) == 4 and g.isdigit()]
        if kind == "decade":
            is_decade = lowered.endswith("s") or lowered.startswith("années")
            if not is_decade:
                continue
            start = years[0]
            if start % 10:
                raise ValueError(
                    gettext("period: a decade starts with a year ending in 0 (%(help)s)",
                            help=PERIOD_HELP)
                )  # fmt: skip
            end = start + 9
        elif kind == "approx":
            start, end = years[0] - 2, years[0] + 2
        elif kind == "range":
            start, end = years
            if end < start:
                raise ValueError(gettext("period: the range ends before it starts"))
        else:
            start = end = years[0]
        if not (MIN_YEAR <= start <= MAX_YEAR and MIN_YEAR <= end <= MAX_YEAR):
            raise ValueError(
                gettext("period: years must be between %(first)s and %(last)s",
                        first=MIN_YEAR, last=MAX_YEAR)
            )  # fmt: skip
        return Period(text=cleaned, start=start, end=end)
    raise ValueError(
        gettext("period: could not read “%(text)s”; %(help)s", text=text, help=PERIOD_HELP)
    )


def canonical_language_tag(tag: str) -> str:
    """BCP 47 canonical case: language lower, script title, region upper (``zh-hant-tw`` →
    ``zh-Hant-TW``). Validity is checked by the schema before this runs."""
    parts = tag.replace("_", "-").split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            out.append(part.title())
        elif len(part) == 2 and part.isalpha() or len(part) == 3 and part.isdigit():
            out.append(part.upper())
        else:
            out.append(part.lower())
    return "-".join(out)
