"""OAI-PMH 2.0: the six verbs over public records, answered as documents the official XSDs accept.

A harvest reads ``public_records`` (``webapp.services.publication``): one record per story that
was ever published, with the moment its public content last changed. Lists are ordered by
``(datestamp, story id)``; a resumption token carries the position reached and the harvest's
upper bound (the moment of its first request), so records that change during a harvest move
beyond that bound instead of being met twice, and the next incremental harvest (``from`` = this
one's ``responseDate``) picks them up. Stories withdrawn or erased stay as deleted headers
(``deletedRecord`` = ``persistent``).

Every protocol error is an HTTP 200 document with the error's code. Request arguments are echoed
in ``<request>`` only when the request was well formed (as the protocol says), and every string
passes :func:`webapp.interop.xmltext.xml_text`, so control characters, invalid UTF-8 or lone
surrogates in an argument or a story cannot break the document. XML is built with lxml, never by
joining strings. This module must never show anything that is not public: metadata comes only
from stories the visibility rule lets through.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

from flask import url_for
from lxml import etree

from webapp.interop.xmltext import xml_text
from webapp.licences import deed_url
from webapp.models import MediaState, PublicRecord, Story
from webapp.services import documents, publication
from webapp.services.publication import RecordWindow

NS_OAI = "http://www.openarchives.org/OAI/2.0/"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS_OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
NS_DC = "http://purl.org/dc/elements/1.1/"
NS_OAI_ID = "http://www.openarchives.org/OAI/2.0/oai-identifier"
NS_XML = "http://www.w3.org/XML/1998/namespace"
SCHEMA_OAI = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
SCHEMA_OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
SCHEMA_OAI_ID = "http://www.openarchives.org/OAI/2.0/oai-identifier.xsd"

METADATA_PREFIX = "oai_dc"
GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"
REPOSITORY_NAME = "Passages"
#: ``dc:type`` of an archive document, beside the DCMI type of its content.
DOCUMENT_TYPE = "archival document"
#: The derivatives an image is linked by in ``dc:relation``, best first (JPEG: readable anywhere).
RELATION_DERIVATIVES = ("download", "large", "medium")

#: verb → (required arguments, optional arguments, exclusive argument)
VERBS: dict[str, tuple[frozenset[str], frozenset[str], str | None]] = {
    "Identify": (frozenset(), frozenset(), None),
    "ListMetadataFormats": (frozenset(), frozenset({"identifier"}), None),
    "ListSets": (frozenset(), frozenset(), "resumptionToken"),
    "GetRecord": (frozenset({"identifier", "metadataPrefix"}), frozenset(), None),
    "ListIdentifiers": (
        frozenset({"metadataPrefix"}),
        frozenset({"from", "until", "set"}),
        "resumptionToken",
    ),
    "ListRecords": (
        frozenset({"metadataPrefix"}),
        frozenset({"from", "until", "set"}),
        "resumptionToken",
    ),
}

# The XSD's own patterns, so that whatever is echoed back validates.
_SET_SPEC = re.compile(r"[A-Za-z0-9\-_.!~*'()]+(?::[A-Za-z0-9\-_.!~*'()]+)*")
_PREFIX = re.compile(r"[A-Za-z0-9\-_.!~*'()]+")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
# ``[0-9]``, not ``\d``: ``\d`` also matches other scripts' digits, which the XSD refuses.
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SECOND = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
#: The oai-identifier schema's ``repositoryIdentifier``: a domain name starting with a letter.
_REPOSITORY_IDENTIFIER = re.compile(r"[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z0-9\-]+)+")
#: The largest id or count a token may carry: what a database's signed 64-bit integer holds.
MAX_TOKEN_NUMBER = 2**63 - 1


class OaiError(Exception):
    """One protocol error: its code (from the OAI-PMH list) and a message for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Repository:
    """What a response needs to know about where it is served."""

    base_url: str
    admin_email: str
    page_size: int
    now: datetime

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or "localhost"

    def identifier(self, story_id: int) -> str:
        return f"oai:{self.host}:stories/{story_id}"

    def story_id(self, identifier: str) -> int | None:
        prefix = f"oai:{self.host}:stories/"
        number = identifier.removeprefix(prefix)
        if number == identifier or not number.isascii() or not number.isdigit():
            return None
        if len(number) > 18 or number.startswith("0"):
            return None
        return int(number)


# --- entry point ----------------------------------------------------------------------------


def respond(arguments: Sequence[tuple[str, str]], repository: Repository) -> bytes:
    """The whole response document for one request's arguments (names and values, repeated as
    sent). Never raises for anything a client can send."""
    root, request_element = _envelope(repository)
    try:
        verb, args = _check_arguments(arguments)
    except OaiError as error:
        _add_error(root, error)
        return _serialise(root)
    for name, value in sorted(args.items()):
        request_element.set(name, xml_text(value))
    request_element.set("verb", verb)
    try:
        body = _VERB_HANDLERS[verb](args, repository)
        root.append(body)
    except OaiError as error:
        if error.code in ("badArgument", "badVerb"):
            for name in list(request_element.attrib):
                del request_element.attrib[name]
        _add_error(root, error)
    return _serialise(root)


def _envelope(repository: Repository) -> tuple[etree._Element, etree._Element]:
    root = etree.Element(f"{{{NS_OAI}}}OAI-PMH", nsmap={None: NS_OAI, "xsi": NS_XSI})
    root.set(f"{{{NS_XSI}}}schemaLocation", f"{NS_OAI} {SCHEMA_OAI}")
    _sub(root, "responseDate", datestamp(repository.now))
    request_element = _sub(root, "request", repository.base_url)
    return root, request_element


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _sub(parent: etree._Element, name: str, text: str | None = None, ns: str = NS_OAI):
    element = etree.SubElement(parent, f"{{{ns}}}{name}")
    if text is not None:
        element.text = xml_text(text)
    return element


def _add_error(root: etree._Element, error: OaiError) -> None:
    element = _sub(root, "error", error.message)
    element.set("code", error.code)


def datestamp(moment: datetime) -> str:
    """A UTC moment at the repository's granularity (seconds, ``Z``)."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- arguments ------------------------------------------------------------------------------


def _check_arguments(arguments: Sequence[tuple[str, str]]) -> tuple[str, dict[str, str]]:
    """The verb and its arguments, or the protocol error the request deserves."""
    verbs = [value for name, value in arguments if name == "verb"]
    if len(verbs) != 1 or verbs[0] not in VERBS:
        if not verbs:
            raise OaiError("badVerb", "the verb argument is missing")
        if len(verbs) > 1:
            raise OaiError("badVerb", "the verb argument is repeated")
        raise OaiError("badVerb", "the verb is not one of: " + ", ".join(VERBS))
    verb = verbs[0]
    required, optional, exclusive = VERBS[verb]
    allowed = required | optional | ({exclusive} if exclusive else set())
    args: dict[str, str] = {}
    for name, value in arguments:
        if name == "verb":
            continue
        if name not in allowed:
            raise OaiError("badArgument", f"{verb} does not take the argument {xml_text(name)!r}")
        if name in args:
            raise OaiError("badArgument", f"the argument {name} is repeated")
        if not value:
            raise OaiError("badArgument", f"the argument {name} is empty")
        args[name] = value
    if exclusive and exclusive in args:
        if len(args) > 1:
            raise OaiError("badArgument", f"{exclusive} must be the only argument besides verb")
        return verb, args
    missing = sorted(required - args.keys())
    if missing:
        raise OaiError("badArgument", f"{verb} needs the argument {missing[0]}")
    if "metadataPrefix" in args and not _PREFIX.fullmatch(args["metadataPrefix"]):
        raise OaiError("badArgument", "metadataPrefix is not a valid metadata prefix")
    if "identifier" in args and not _URI.fullmatch(args["identifier"]):
        raise OaiError("badArgument", "identifier is not a valid URI")
    if "set" in args and not _SET_SPEC.fullmatch(args["set"]):
        raise OaiError("badArgument", "set is not a valid setSpec")
    for name in ("from", "until"):
        if name in args:
            _parse_moment(args[name], name)
    if "from" in args and "until" in args:
        if len(args["from"]) != len(args["until"]):
            raise OaiError("badArgument", "from and until must have the same granularity")
        if _parse_moment(args["from"], "from") > _parse_moment(args["until"], "until"):
            raise OaiError("badArgument", "from is later than until")
    return verb, args


def _parse_moment(value: str, name: str) -> datetime:
    """A ``from``/``until`` value (a day or a second, UTC) as the moment it starts."""
    try:
        if _DAY.fullmatch(value):
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
        if _SECOND.fullmatch(value):
            return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        pass
    raise OaiError(
        "badArgument", f"{name} must be a UTC date YYYY-MM-DD or moment YYYY-MM-DDThh:mm:ssZ"
    )


def _window_end(until: str | None) -> datetime | None:
    """``until`` is inclusive at its own granularity: the exclusive end is one day or second on."""
    if until is None:
        return None
    step = timedelta(days=1) if _DAY.fullmatch(until) else timedelta(seconds=1)
    try:
        return _parse_moment(until, "until") + step
    except OverflowError:  # until the last day datetime holds: no bound but the harvest's own
        return None


def _require_format(args: dict[str, str]) -> None:
    if args["metadataPrefix"] != METADATA_PREFIX:
        raise OaiError(
            "cannotDisseminateFormat", f"only the {METADATA_PREFIX} metadata format is offered"
        )


# --- resumption tokens ----------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """Where a list harvest stands: its filters, its upper bound and the last record sent."""

    prefix: str
    set_spec: str | None
    start: datetime | None
    end: datetime
    after: tuple[datetime, int] | None
    cursor: int

    def encode(self) -> str:
        data = {
            "v": 1,
            "m": self.prefix,
            "s": self.set_spec,
            "f": self.start.isoformat() if self.start else None,
            "e": self.end.isoformat(),
            "a": [self.after[0].isoformat(), self.after[1]] if self.after else None,
            "c": self.cursor,
        }
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Position:
        try:
            if not token.isascii():
                raise ValueError(token)
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            data = json.loads(raw)
            if not isinstance(data, dict) or data.get("v") != 1:
                raise ValueError(token)
            after = data["a"]
            set_spec = data["s"]
            cursor = data["c"]
            if set_spec is not None and not (
                isinstance(set_spec, str) and _SET_SPEC.fullmatch(set_spec)
            ):
                raise ValueError(token)
            cursor = _story_number(cursor)
            position = cls(
                prefix=str(data["m"]),
                set_spec=set_spec,
                start=_aware_moment(data["f"]) if data["f"] is not None else None,
                end=_aware_moment(data["e"]),
                after=(_aware_moment(after[0]), _story_number(after[1])) if after else None,
                cursor=cursor,
            )
        # A forged token can overflow a date or nest deeply enough to exhaust the parser.
        except (
            ValueError,
            TypeError,
            KeyError,
            IndexError,
            binascii.Error,
            OverflowError,
            RecursionError,
        ) as exc:
            raise OaiError(
                "badResumptionToken", "the resumption token is not one this repository gave out"
            ) from exc
        return position


def _aware_moment(text: object) -> datetime:
    """A token's moment in UTC; one whose offset moves it outside datetime's years 1-9999 raises
    OverflowError, which :meth:`Position.decode` answers as a bad token."""
    if not isinstance(text, str):
        raise ValueError(text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(text)
    return moment.astimezone(UTC)


def _story_number(value: object) -> int:
    """A non-negative number from a token, small enough for the database's integers."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_TOKEN_NUMBER:
        raise ValueError(value)
    return value


def _start_position(args: dict[str, str], repository: Repository) -> Position:
    if "resumptionToken" in args:
        return Position.decode(args["resumptionToken"])
    _require_format(args)
    end = repository.now
    until_end = _window_end(args.get("until"))
    if until_end is not None and until_end < end:
        end = until_end
    start = _parse_moment(args["from"], "from") if "from" in args else None
    return Position(METADATA_PREFIX, args.get("set"), start, end, None, 0)


def _list(args: dict[str, str], repository: Repository, *, with_metadata: bool):
    position = _start_position(args, repository)
    window = RecordWindow(start=position.start, end=position.end, set_spec=position.set_spec,
                          after=position.after)  # fmt: skip
    records = publication.records_page(window, repository.page_size + 1)
    more = len(records) > repository.page_size
    records = records[: repository.page_size]
    if not records:
        # Also the answer to a token whose remaining records all changed since it was given
        # (they moved past the harvest's bound): the schema allows no empty list.
        raise OaiError("noRecordsMatch", "no record matches these arguments")
    container = etree.Element(
        f"{{{NS_OAI}}}{'ListRecords' if with_metadata else 'ListIdentifiers'}"
    )
    stories = publication.stories_of(records)
    for record in records:
        story = stories.get(record.story_id)
        if with_metadata:
            _add_record(container, record, story, repository)
        else:
            _add_header(container, record, story, repository)
    if more or position.cursor:
        total = publication.count_records(
            RecordWindow(start=position.start, end=position.end, set_spec=position.set_spec)
        )
        token = _sub(container, "resumptionToken")
        token.set("cursor", str(position.cursor))
        if total > 0:
            token.set("completeListSize", str(total))
        if more:
            last = records[-1]
            following = Position(position.prefix, position.set_spec, position.start, position.end,
                                 (publication.changed_at_of(last), last.story_id),
                                 position.cursor + len(records))  # fmt: skip
            token.text = following.encode()
    return container


# --- the verbs ------------------------------------------------------------------------------


def _identify(_args: dict[str, str], repository: Repository):
    container = etree.Element(f"{{{NS_OAI}}}Identify")
    _sub(container, "repositoryName", REPOSITORY_NAME)
    _sub(container, "baseURL", repository.base_url)
    _sub(container, "protocolVersion", "2.0")
    _sub(container, "adminEmail", repository.admin_email)
    earliest = publication.earliest_change() or repository.now
    _sub(container, "earliestDatestamp", datestamp(earliest))
    _sub(container, "deletedRecord", "persistent")
    _sub(container, "granularity", GRANULARITY)
    if _REPOSITORY_IDENTIFIER.fullmatch(repository.host):
        description = _sub(container, "description")
        oai_id = etree.SubElement(
            description, f"{{{NS_OAI_ID}}}oai-identifier", nsmap={None: NS_OAI_ID}
        )
        oai_id.set(f"{{{NS_XSI}}}schemaLocation", f"{NS_OAI_ID} {SCHEMA_OAI_ID}")
        _sub(oai_id, "scheme", "oai", ns=NS_OAI_ID)
        _sub(oai_id, "repositoryIdentifier", repository.host, ns=NS_OAI_ID)
        _sub(oai_id, "delimiter", ":", ns=NS_OAI_ID)
        _sub(oai_id, "sampleIdentifier", repository.identifier(1), ns=NS_OAI_ID)
    return container


def _list_metadata_formats(args: dict[str, str], repository: Repository):
    if "identifier" in args:
        _find(args["identifier"], repository)
    container = etree.Element(f"{{{NS_OAI}}}ListMetadataFormats")
    entry = _sub(container, "metadataFormat")
    _sub(entry, "metadataPrefix", METADATA_PREFIX)
    _sub(entry, "schema", SCHEMA_OAI_DC)
    _sub(entry, "metadataNamespace", NS_OAI_DC)
    return container


def _list_sets(args: dict[str, str], _repository: Repository):
    if "resumptionToken" in args:
        # Every set fits in one answer, so this repository never hands out a ListSets token.
        raise OaiError("badResumptionToken", "ListSets is answered whole; no token is valid")
    container = etree.Element(f"{{{NS_OAI}}}ListSets")
    for public_set in publication.public_sets():
        entry = _sub(container, "set")
        _sub(entry, "setSpec", public_set.spec)
        _sub(entry, "setName", public_set.name)
    return container


def _get_record(args: dict[str, str], repository: Repository):
    record = _find(args["identifier"], repository)
    _require_format(args)
    container = etree.Element(f"{{{NS_OAI}}}GetRecord")
    _add_record(container, record, publication.public_story_of(record), repository)
    return container


def _list_identifiers(args: dict[str, str], repository: Repository):
    return _list(args, repository, with_metadata=False)


def _list_records(args: dict[str, str], repository: Repository):
    return _list(args, repository, with_metadata=True)


_VERB_HANDLERS = {
    "Identify": _identify,
    "ListMetadataFormats": _list_metadata_formats,
    "ListSets": _list_sets,
    "GetRecord": _get_record,
    "ListIdentifiers": _list_identifiers,
    "ListRecords": _list_records,
}


def _find(identifier: str, repository: Repository) -> PublicRecord:
    story_id = repository.story_id(identifier)
    record = publication.get_record(story_id) if story_id is not None else None
    if record is None:
        raise OaiError("idDoesNotExist", "no item of this repository has this identifier")
    return record


# --- records --------------------------------------------------------------------------------


def _add_header(parent, record: PublicRecord, story: Story | None, repository: Repository):
    header = _sub(parent, "header")
    if story is None:
        header.set("status", "deleted")
    _sub(header, "identifier", repository.identifier(record.story_id))
    _sub(header, "datestamp", datestamp(publication.changed_at_of(record)))
    for row in record.sets:
        _sub(header, "setSpec", row.set_spec)
    return header


def _add_record(parent, record: PublicRecord, story: Story | None, repository: Repository):
    element = _sub(parent, "record")
    _add_header(element, record, story, repository)
    if story is not None:
        metadata = _sub(element, "metadata")
        metadata.append(oai_dc(story))


def image_urls(story: Story) -> list[str]:
    """The public address of each ready image of a public story (its best shareable copy)."""
    urls = []
    for media in story.media:
        if media.state != MediaState.READY.value:
            continue
        name = next((n for n in RELATION_DERIVATIVES if n in (media.derivatives or {})), None)
        if name is not None:
            urls.append(url_for("public.derivative", media_id=media.id, name=name, _external=True))
    return urls


def oai_dc(story: Story) -> etree._Element:
    """The story as simple Dublin Core (``oai_dc``), only from what its public page shows."""
    if not story.is_public:  # never, whatever the caller: only public stories have metadata
        raise ValueError("only a public story has metadata")
    dc = etree.Element(
        f"{{{NS_OAI_DC}}}dc", nsmap={"oai_dc": NS_OAI_DC, "dc": NS_DC, "xsi": NS_XSI}
    )
    dc.set(f"{{{NS_XSI}}}schemaLocation", f"{NS_OAI_DC} {SCHEMA_OAI_DC}")
    language = story.language

    def add(name: str, value: str | None, *, lang: bool = False) -> None:
        if value is None or not str(value).strip():
            return
        element = _sub(dc, name, str(value), ns=NS_DC)
        if lang and language:
            element.set(f"{{{NS_XML}}}lang", xml_text(language))

    add("title", story.title, lang=True)
    extra = story.extra or {}
    organisation = story.organisation.name if story.organisation else None
    if story.is_document:
        add("creator", story.source_producer)
    else:
        add("creator", extra.get("credit") or organisation)
    for theme in story.themes or []:
        add("subject", theme, lang=True)
    add("description", extra.get("summary"), lang=True)
    add("description", story.body, lang=True)
    add("publisher", organisation or REPOSITORY_NAME)
    if story.published_at is not None:
        add("date", story.published_at.date().isoformat())
    add("type", "Text")
    if any(m.state == MediaState.READY.value for m in story.media):
        add("type", "StillImage")
    if story.is_document:
        # The kind in words beside the DCMI types, and where the original is kept.
        add("type", DOCUMENT_TYPE)
        add("source", documents.citation(story))
    add("identifier", url_for("public.story", story_id=story.id, _external=True))
    add("language", language)
    for url in image_urls(story):
        add("relation", url)
    for document in documents.responded_documents(story):
        add("relation", url_for("public.story", story_id=document.id, _external=True))
    for place in story.places or []:
        add("coverage", place)
    add("coverage", story.period)
    add("rights", deed_url(story.licence) or story.licence)
    if deed_url(story.licence):
        add("rights", story.licence)
    return dc
