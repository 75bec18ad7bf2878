"""Record numbers as people and URLs send them: parsed once, bounded, never a server error.

Why: ``str.isdigit`` accepts "²" (which ``int`` refuses) and Python integers have no upper bound,
while the database's do (SQLite and PostgreSQL ``BIGINT`` stop at 2**63 - 1). A number typed into
a form, a query string or a path that is out of range is simply "no such record": it must give
the same answer as an unknown id (404, or the field ignored), never a 500 that would also tell an
unpublished id from a missing one. This module only parses; it never looks anything up.
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter

#: The largest id any of our databases can hold (signed 64-bit).
MAX_ID = 2**63 - 1


def parse_id(value: Any) -> int | None:
    """A positive record id from a form, query or JSON value, or None when it cannot be one.

    Accepts ints (not bools) and strings of ASCII digits; refuses anything else, zero, and
    numbers past what the database can store.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if not text or not text.isascii() or not text.isdecimal() or len(text) > 19:
            return None
        number = int(text)
    else:
        return None
    return number if 1 <= number <= MAX_ID else None


class BoundedIntegerConverter(IntegerConverter):
    """Werkzeug's ``<int:…>`` with the database's bound: a larger number is an unknown URL (404).

    Registered as the application's ``int`` converter, so every route is covered at once.
    """

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002 - Werkzeug's name
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
