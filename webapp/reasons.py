"""Why a background job failed: stored as a code, read in the reader's language.

Workers cannot know who will read a failure (a French teacher on the status page, an English
API client, an archivist on the jobs page), so they never store a sentence. They store a stable
code from ``webapp.labels.REASON`` and its parameters in the existing text column —
``truncated {"format": "JPEG"}`` — and every screen, JSON answer and API response turns it into
words when it is shown (:func:`words`; ``{{ media.failure_reason|reason }}`` in templates).
No migration: the column stays a string, and a row written before codes existed (an English
sentence) is recognised by the same table's English patterns, or shown as "processing failed"
with the old sentence as its detail. This module decides no failure; it only writes and reads
their codes.
"""

from __future__ import annotations

import json
import re
from typing import Any

from webapp import labels

_STORED = re.compile(r"([a-z][a-z0-9_]*)(?: (\{.*\}))?", re.DOTALL)
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
#: Sentences older workers wrote that the table words differently today.
_OLD_WORDINGS = {
    "job_memory": "processing needed more than the %(mb)s MB of memory a job may use",
}
#: The parameter that holds a nested reason (a poster that failed says why).
_NESTED = "cause"


def encode(code: str, **params: Any) -> str:
    """The stored form of a failure: its code, then its parameters as JSON when it has some."""
    if code not in labels.REASON:
        raise ValueError(f"unknown failure code {code!r} (add its words to webapp.labels.REASON)")
    if not params:
        return code
    return f"{code} {json.dumps(params, ensure_ascii=False, sort_keys=True)}"


def of(exc: Exception) -> str:
    """The stored form of a refusal raised by ``webapp.media`` (its ``code`` and ``params``)."""
    return encode(exc.code, **exc.params)  # type: ignore[attr-defined]


def _english(code: str) -> str:
    """The message id of a code's words (a lazy label keeps it as its first argument)."""
    return labels.REASON[code]._args[0]


def _pattern(english: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(english)
    regex = "".join(
        re.escape(part) if n % 2 == 0 else f"(?P<{part}>.+)" for n, part in enumerate(parts)
    )
    return re.compile(regex, re.DOTALL)


def _old_patterns() -> list[tuple[str, re.Pattern[str]]]:
    found = [(code, _pattern(_english(code))) for code in labels.REASON]
    found += [(code, _pattern(english)) for code, english in _OLD_WORDINGS.items()]
    # Most specific first: a sentence without parameters before one that matches anything.
    return sorted(found, key=lambda item: len(_PLACEHOLDER.sub("", item[1].pattern)), reverse=True)


_OLD: list[tuple[str, re.Pattern[str]]] = []


def decode(stored: str) -> tuple[str, dict[str, Any]]:
    """The code and parameters of a stored reason, old English sentences included.

    A sentence no pattern recognises becomes ``failed`` with the sentence as its detail: the
    reader learns that processing failed, in their language, and what was said at the time.
    A stored code this version cannot word — unknown (written by a newer worker during a
    rolling deploy) or missing parameters its words need — becomes :data:`UNWORDED`, a plain
    "processing failed": a code and its JSON mean nothing to the pupil who reads them, and
    the API's ``failure_code`` (:func:`code_of`) says the same as the words.
    """
    match = _STORED.fullmatch(stored)
    if match:
        try:
            params = json.loads(match.group(2)) if match.group(2) else {}
        except ValueError:
            params = None
        code = match.group(1)
        if code in labels.REASON and isinstance(params, dict) and _fits(code, params):
            return code, params
        return UNWORDED, {}
    if not _OLD:
        _OLD.extend(_old_patterns())
    for code, pattern in _OLD:
        if old := pattern.fullmatch(stored):
            return code, old.groupdict()
    return "failed", {"detail": stored}


#: The code of a stored reason this version cannot put into words (see :func:`decode`).
UNWORDED = "processing_failed"


def _fits(code: str, params: dict[str, Any]) -> bool:
    """Whether ``params`` hold every parameter the code's words need."""
    return set(_PLACEHOLDER.findall(_english(code))) <= set(params)


def code_of(stored: str | None) -> str | None:
    """The machine-readable code of a stored reason (for API clients), ``None`` when none;
    always the code whose words :func:`words` shows."""
    return decode(stored)[0] if stored else None


def words(stored: str | None) -> str:
    """A stored reason in the interface language (English outside a request)."""
    if not stored:
        return ""
    code, params = decode(stored)
    if _NESTED in params:
        params = {**params, _NESTED: words(str(params[_NESTED]))}
    return str(labels.REASON[code]) % {name: _text(value) for name, value in params.items()}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
