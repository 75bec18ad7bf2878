"""JSON Schemas: the single source of truth for submission metadata and event payloads.

The API, the web form and the workers validate against the files in this folder; the OpenAPI
document points at them. This module loads and checks; it must never decide business rules.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

SCHEMA_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class FieldError:
    """One problem with a submitted document, phrased for the person who sent it."""

    field: str
    message: str


class UnknownEvent(LookupError):
    pass


@cache
def load_schema(name: str) -> dict[str, Any]:
    path = SCHEMA_DIR / name
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _field_of(error: ValidationError) -> str:
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        path.append(missing)
    elif error.validator == "additionalProperties" and "'" in error.message:
        path.append(error.message.split("'")[1])
    return ".".join(p for p in path if p) or "metadata"


def _message_of(error: ValidationError, field: str) -> str:
    """Turn jsonschema's technical wording into something a teacher can act on, in the
    interface language (English outside a request). The field keeps its schema name: the API's
    callers and the form's labels both know it."""
    v = error.validator
    if v == "required":
        return _("%(field)s is required", field=field)
    if v == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return _("%(field)s must be of type %(type)s", field=field, type=expected)
    if v == "additionalProperties":
        return _("%(field)s is not a known field", field=field)
    if v == "enum":
        choices = ", ".join(str(c) for c in error.validator_value)
        return _("%(field)s must be one of: %(choices)s", field=field, choices=choices)
    if v == "const":
        if field == "consent.contributor" and error.validator_value is True:
            return _(
                "tick the box to agree that the archive keeps and publishes the story "
                "(consent.contributor must be true)"
            )
        return _("%(field)s must be %(value)s", field=field,
                 value=json.dumps(error.validator_value))  # fmt: skip
    if (
        v in ("minLength", "pattern")
        and isinstance(error.instance, str)
        and not error.instance.strip()
    ):
        return _("%(field)s must not be empty", field=field)
    if v == "maxLength":
        return _("%(field)s is too long (at most %(count)s characters)", field=field,
                 count=error.validator_value)  # fmt: skip
    if v == "maxItems":
        return _("%(field)s has too many entries (at most %(count)s)", field=field,
                 count=error.validator_value)  # fmt: skip
    if v == "pattern" and field == "language":
        return _(
            "language must be a BCP 47 language tag such as fr, ar, zh-Hant or ckb-Latn "
            "(got %(tag)s)",
            tag=repr(error.instance),
        )
    return f"{field}: {error.message}"


#: C0 control characters other than tab, line feed and carriage return: not text a person
#: wrote, and NUL cannot be stored by PostgreSQL at all.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def not_text(document: Any, path: tuple[str, ...] = ()) -> list[FieldError]:
    """Strings JSON can carry but no archive should store: ``"\\ud800"`` decodes to a lone UTF-16
    surrogate (not a character; no UTF-8 for it), ``"\\u0000"`` to NUL (refused by PostgreSQL)
    and the other control characters to invisible codes."""
    if isinstance(document, str):
        field = ".".join(path) or "metadata"
        try:
            document.encode("utf-8")
        except UnicodeEncodeError:
            return [FieldError(field=field, message=f"{field} contains a code that is not text")]
        if _CONTROL.search(document):
            return [FieldError(field=field, message=f"{field} contains a control character")]
        return []
    if isinstance(document, dict):
        found = []
        for key, value in document.items():
            found += not_text(key, path) or not_text(value, (*path, str(key)))
        return found
    if isinstance(document, list):
        return [e for n, item in enumerate(document) for e in not_text(item, (*path, str(n)))]
    return []


def validate(name: str, document: Any) -> list[FieldError]:
    """All problems with ``document`` against schema file ``name``, most specific first."""
    if problems := not_text(document):
        return problems  # nothing else can be said safely about such a document
    errors = sorted(_validator(name).iter_errors(document), key=lambda e: list(e.absolute_path))
    result = []
    for error in errors:
        field = _field_of(error)
        result.append(FieldError(field=field, message=_message_of(error, field)))
    return result


def validate_story_metadata(document: Any) -> list[FieldError]:
    return validate("story.schema.json", document)


def validate_event(event_type: str, payload: Any) -> list[FieldError]:
    name = f"events/{event_type}.schema.json"
    if not (SCHEMA_DIR / name).exists():
        raise UnknownEvent(event_type)
    return validate(name, payload)
