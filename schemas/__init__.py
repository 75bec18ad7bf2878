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
from jsonschema.exceptions import ValidationError, best_match

SCHEMA_DIR = Path(__file__).resolve().parent


def N_(message: str) -> str:  # noqa: N802 - the name pybabel extract looks for
    """Mark ``message`` for the catalog; it is translated where it is shown (``_``)."""
    return message


@dataclass(frozen=True)
class FieldError:
    """One problem with a submitted document: ``field`` is its path for programs
    (``places.0``), ``message`` names it in words for the person who sent it."""

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


#: The submission's fields in words, by their path in the document (``source.reference``):
#: messages name a field as the form does, never by its code. Marked for the catalog and
#: translated when a message is made, in that request's language.
FIELD_WORDS: dict[str, str] = {
    "metadata": N_("The description of the story"),
    "title": N_("Title"),
    "body": N_("Text"),
    "language": N_("Language of the text"),
    "places": N_("Places"),
    "period": N_("Period"),
    "themes": N_("Themes"),
    "licence": N_("Licence"),
    "consent": N_("Consent"),
    "consent.contributor": N_("Consent of the contributor"),
    "consent.guardian": N_("Consent of a parent or guardian"),
    "consent.minor": N_("Under 15"),
    "credit": N_("Credit line"),
    "contributor_name": N_("Name shown with the story"),
    "summary": N_("Summary"),
    "alt_texts": N_("Image descriptions"),
    "kind": N_("Kind of story"),
    "source": N_("Source of the document"),
    "source.institution": N_("Holding institution"),
    "source.reference": N_("Call number"),
    "source.fonds": N_("Fonds or series"),
    "source.producer": N_("Producer of the document"),
    "responds_to": N_("Documents the story responds to"),
    "recording_consents": N_("Consents of the people recorded"),
    "recording_consents.person": N_("name of the person recorded"),
    "recording_consents.consent": N_("their consent"),
    "recording_consents.minor": N_("minor"),
    "recording_consents.guardian_by": N_("who gave the guardian's consent"),
    "images": N_("Files"),
    "files": N_("Files"),
}

#: One entry of a list field, by the list's path; ``%(number)s`` counts from 1.
ITEM_WORDS: dict[str, str] = {
    "places": N_("Place no. %(number)s"),
    "themes": N_("Theme no. %(number)s"),
    "alt_texts": N_("Description no. %(number)s"),
    "responds_to": N_("Document no. %(number)s the story responds to"),
    "recording_consents": N_("Consent for file no. %(number)s"),
}

_TYPE_WORDS: dict[str, str] = {
    "string": N_("a string of text"),
    "integer": N_("a whole number"),
    "number": N_("a number"),
    "boolean": N_("true or false"),
    "array": N_("a list"),
    "object": N_("a group of fields (a JSON object)"),
    "null": N_("null"),
}


def field_words(field: str) -> str:
    """A field's name for people, from its path (``places.0`` → "Place no. 1"); a path the
    tables do not know (a field that does not exist) is shown in quotes as sent."""
    list_path, _dot, index = field.rpartition(".")
    if index.isdigit() and list_path in ITEM_WORDS:
        return _(ITEM_WORDS[list_path], number=int(index) + 1)
    parts = field.split(".")
    if len(parts) == 3 and parts[1].isdigit() and parts[0] in ITEM_WORDS:  # a list of objects
        inner = FIELD_WORDS.get(f"{parts[0]}.{parts[2]}")
        if inner is not None:
            item = _(ITEM_WORDS[parts[0]], number=int(parts[1]) + 1)
            return _("%(item)s, %(field)s", item=item, field=_(inner))
    words = FIELD_WORDS.get(field)
    return _(words) if words is not None else f"“{field}”"


def _type_words(expected: Any) -> str:
    names = expected if isinstance(expected, list) else [expected]
    return _(" or ").join(_(_TYPE_WORDS[name]) if name in _TYPE_WORDS else name for name in names)


#: The branch of a ``oneOf`` that allows leaving an entry empty: never the one to explain.
NULL_BRANCH = ("type", "null")


def _message_of(error: ValidationError, field: str) -> str:
    """Turn jsonschema's technical wording into something a teacher can act on, in the
    interface language (English outside a request). The message names the field in words
    (:func:`field_words`); its path stays in :attr:`FieldError.field` for programs."""
    v = error.validator
    if v in ("oneOf", "anyOf") and error.context:  # say what is wrong in the likeliest branch
        branches = [e for e in error.context if (e.validator, e.validator_value) != NULL_BRANCH]
        inner = best_match(branches or error.context)
        if inner is not None:
            return _message_of(inner, _field_of(inner))
    name = field_words(field)
    list_path, _dot, index = field.rpartition(".")
    if v == "required":
        return _("%(field)s: this is required", field=name)
    if v == "type":
        return _("%(field)s: must be %(type)s", field=name, type=_type_words(error.validator_value))
    if v == "additionalProperties":
        return _("%(field)s is not a field of a story", field=name)
    if v == "enum":
        choices = ", ".join(str(c) for c in error.validator_value)
        return _("%(field)s: choose one of %(choices)s", field=name, choices=choices)
    if v == "const":
        if field == "consent.contributor" and error.validator_value is True:
            return _(
                "tick the box to agree that the archive keeps and publishes the story "
                "(consent.contributor must be true)"
            )
        return _("%(field)s: must be %(value)s", field=name,
                 value=json.dumps(error.validator_value))  # fmt: skip
    if (
        v in ("minLength", "pattern")
        and isinstance(error.instance, str)
        and not error.instance.strip()
    ):
        if index.isdigit() and list_path in ("places", "themes"):
            return _("%(field)s: the name is required", field=name)
        return _("%(field)s: must not be empty", field=name)
    if v == "maxLength":
        return _("%(field)s: too long (at most %(count)s characters)", field=name,
                 count=error.validator_value)  # fmt: skip
    if v == "maxItems":
        return _("%(field)s: too many entries (at most %(count)s)", field=name,
                 count=error.validator_value)  # fmt: skip
    if v == "pattern" and field == "language":
        return _(
            "%(field)s: give a BCP 47 language tag such as fr, ar, zh-Hant or ckb-Latn "
            "(got %(tag)s)",
            field=name,
            tag=repr(error.instance),
        )
    if v == "minimum":
        return _("%(field)s: must be %(limit)s or more", field=name, limit=error.validator_value)
    if v == "maximum":
        return _("%(field)s: must be %(limit)s or less", field=name, limit=error.validator_value)
    if v == "uniqueItems":
        return _("%(field)s: the same entry is given twice", field=name)
    return _("%(field)s: this value is not accepted", field=name)


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
            message = _("%(field)s: contains a code that is not text", field=field_words(field))
            return [FieldError(field=field, message=message)]
        if _CONTROL.search(document):
            message = _("%(field)s: contains a control character", field=field_words(field))
            return [FieldError(field=field, message=message)]
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
    result: list[FieldError] = []
    for error in errors:
        field = _field_of(error)
        problem = FieldError(field=field, message=_message_of(error, field))
        if problem not in result:  # an empty title breaks two rules; say it once
            result.append(problem)
    return result


def validate_story_metadata(document: Any) -> list[FieldError]:
    return validate("story.schema.json", document)


def validate_event(event_type: str, payload: Any) -> list[FieldError]:
    name = f"events/{event_type}.schema.json"
    if not (SCHEMA_DIR / name).exists():
        raise UnknownEvent(event_type)
    return validate(name, payload)
