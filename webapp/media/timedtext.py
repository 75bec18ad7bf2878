"""Timed text: read and write WebVTT and SRT transcripts, robustly and with clear errors.

Archivists bring transcripts from many tools (subtitle editors, speech-to-text services, word
processors saved "as SRT"): files start with a byte-order mark, end lines with CRLF, overlap
cues when two people speak at once, carry WebVTT cue settings and styling tags. This module reads
both formats into one list of :class:`Cue` (times in milliseconds, the cue's text kept as WebVTT
cue-text markup) and writes them back; :func:`plain_text` is what search and the transcript
beside the player show. Bad input raises :class:`TimedTextError` naming the line to fix.
Pure functions on text: this module must never touch Flask, the database or storage.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

#: A transcript of several hours has a few thousand cues; past this the file is not a transcript.
MAX_CUES = 50_000

#: Longest time a cue may name (99 hours): larger values are typing mistakes.
MAX_MILLISECONDS = 99 * 3600 * 1000


def N_(message: str) -> str:  # noqa: N802 - the name pybabel extract looks for
    """Mark ``message`` for the catalog; the service translates it where it is shown."""
    return message


class TimedTextError(ValueError):
    """The file cannot be read as WebVTT or SRT; ``line`` (1-based) says where, when known."""

    def __init__(self, message: str, line: int | None = None, **params: object) -> None:
        self.line = line
        #: The English message id (``%(name)s`` parameters in ``params``): the service shows it
        #: in the reader's language; ``reason`` is the English words, for logs and tests.
        self.message_id = message
        self.params = params
        self.reason = message % params if params else message
        message = self.reason
        super().__init__(f"line {line}: {message}" if line else message)


@dataclass(frozen=True)
class Cue:
    """One timed line: from ``start_ms`` to ``end_ms``, its ``text`` as WebVTT cue-text markup
    (``&amp;``-escaped, tags such as ``<v Fatima>`` or ``<i>`` kept), and the WebVTT cue
    ``settings`` (``align:start line:90%``) and ``identifier`` when the file had them."""

    start_ms: int
    end_ms: int
    text: str
    settings: str = ""
    identifier: str = ""

    @property
    def start(self) -> float:
        """Start in seconds (what a media element's ``currentTime`` uses)."""
        return self.start_ms / 1000


# --- reading -----------------------------------------------------------------------------------

_TIMESTAMP = re.compile(r"^(?:(\d{1,3}):)?(\d{1,2}):(\d{1,2})(?:[.,](\d{1,3}))?$")
_ARROW = re.compile(r"\s*-->\s*")
_TAG = re.compile(r"<[^>\n]*>")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]*)>")
_ENTITY = re.compile(r"&(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);")
#: Tags SRT files use that WebVTT knows too; others (``<font color=…>``) are dropped.
_SRT_KEPT_TAGS = re.compile(r"^</?(i|b|u)>$", re.IGNORECASE)


def decode(data: bytes) -> str:
    """Bytes to text: UTF-8 (with or without a byte-order mark) or UTF-16 with its mark.

    Other encodings are refused with the line of the first byte that is not UTF-8 rather than
    guessed: a guess would turn Arabic or accented French into garbage without anyone noticing.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise TimedTextError(N_("the file is damaged UTF-16 text")) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TimedTextError(
            N_("the file is not UTF-8 text: save it again as UTF-8 (Unicode)"), line
        ) from exc


def parse(source: str | bytes) -> list[Cue]:
    """Read a WebVTT or SRT file (told apart by the ``WEBVTT`` signature), cues in start order.

    Overlapping cues are kept as they are (two voices at once); cues are ordered by start time,
    keeping the file's order for equal starts.
    """
    text = decode(source) if isinstance(source, bytes) else source.lstrip("\ufeff")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if "\x00" in text:
        raise TimedTextError(N_("the file holds NUL characters: it is not a text file"))
    first = lines[0].strip() if lines else ""
    cues = _parse_webvtt(lines) if first.startswith("WEBVTT") else _parse_srt(lines)
    if not cues:
        raise TimedTextError(
            N_("no cue found: each needs a line such as 00:00:12.000 --> 00:00:15.500")
        )
    return sorted(cues, key=lambda c: c.start_ms)


def parse_timestamp(value: str, line: int | None = None) -> int:
    """``[hh:]mm:ss[.mmm]`` (a comma accepted for SRT) to milliseconds."""
    match = _TIMESTAMP.match(value.strip())
    if match is None:
        raise TimedTextError(
            N_("“%(time)s” is not a time: write hh:mm:ss.mmm, for example 00:01:02.500"),
            line,
            time=value.strip(),
        )
    hours, minutes, seconds, fraction = match.groups()
    if int(minutes) > 59 or int(seconds) > 59:
        raise TimedTextError(
            N_("“%(time)s”: minutes and seconds go up to 59"), line, time=value.strip()
        )
    millis = int((fraction or "0").ljust(3, "0"))
    total = ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + millis
    if total > MAX_MILLISECONDS:
        raise TimedTextError(N_("“%(time)s” is longer than 99 hours"), line, time=value.strip())
    return total


def _timing(line_text: str, number: int) -> tuple[int, int, str]:
    """A timing line ``start --> end [settings]``; settings are WebVTT's, SRT's coordinates are
    dropped by the caller."""
    start_text, rest = _ARROW.split(line_text.strip(), maxsplit=1)
    end_text, _, settings = rest.strip().partition(" ")
    start = parse_timestamp(start_text, number)
    end = parse_timestamp(end_text, number)
    if end < start:
        raise TimedTextError(
            N_("the cue ends (%(end)s) before it starts (%(start)s)"),
            number,
            end=end_text.strip(),
            start=start_text.strip(),
        )
    return start, end, " ".join(settings.split())


def _blocks(lines: list[str], first: int = 0) -> Iterable[tuple[int, list[str]]]:
    """Groups of non-blank lines with the 1-based number of their first line."""
    block: list[str] = []
    start = 0
    for index in range(first, len(lines)):
        if lines[index].strip():
            if not block:
                start = index + 1
            block.append(lines[index])
        elif block:
            yield start, block
            block = []
    if block:
        yield start, block


def _parse_webvtt(lines: list[str]) -> list[Cue]:
    signature = lines[0].strip()
    if signature != "WEBVTT" and signature[6:7] not in (" ", "\t"):
        raise TimedTextError(N_("the first line must be WEBVTT (alone, or followed by a space)"), 1)
    cues: list[Cue] = []
    header_done = False
    for number, block in _blocks(lines):
        if not header_done:
            header_done = True
            if number == 1:
                # The signature and header metadata; a cue written without the blank line
                # after them is still read (common in files typed by hand).
                timings = [i for i, line_text in enumerate(block) if "-->" in line_text]
                if not timings:
                    continue
                number, block = number + timings[0], block[timings[0] :]
        head = block[0].strip()
        if head.startswith("NOTE") and head[4:5] in ("", " ", "\t"):
            continue
        if head in ("STYLE", "REGION") and not cues:
            continue
        if "-->" in head:
            identifier, timing_at = "", 0
        elif len(block) > 1 and "-->" in block[1]:
            identifier, timing_at = head, 1
        else:
            raise TimedTextError(
                N_("expected a timing line such as 00:00:12.000 --> 00:00:15.500, found %(found)s"),
                number,
                found=repr(head[:60]),
            )
        start, end, settings = _timing(block[timing_at], number + timing_at)
        payload = block[timing_at + 1 :]
        for offset, line_text in enumerate(payload):
            if "-->" in line_text:
                raise TimedTextError(
                    N_(
                        "a cue's text cannot contain '-->': is a blank line missing before this "
                        "timing line?"
                    ),
                    number + timing_at + 1 + offset,
                )
        cues.append(Cue(start, end, "\n".join(s.strip() for s in payload), settings, identifier))
        _check_count(cues, number)
    return cues


def _parse_srt(lines: list[str]) -> list[Cue]:
    cues: list[Cue] = []
    for number, block in _blocks(lines):
        head = block[0].strip()
        if "-->" in head:
            timing_at = 0
        elif len(block) > 1 and "-->" in block[1]:
            if not head.isdigit():
                raise TimedTextError(
                    N_("expected the cue's number before its timing line, found %(found)s"),
                    number,
                    found=repr(head[:60]),
                )
            timing_at = 1
        else:
            raise TimedTextError(
                N_(
                    "expected a cue number and a timing line such as "
                    "00:00:12,000 --> 00:00:15,500, found %(found)s"
                ),
                number,
                found=repr(head[:60]),
            )
        start, end, _coordinates = _timing(block[timing_at], number + timing_at)
        payload = []
        for offset, line_text in enumerate(block[timing_at + 1 :]):
            if "-->" in line_text:
                raise TimedTextError(
                    N_(
                        "a subtitle's text cannot contain '-->': is a blank line missing before "
                        "this timing line?"
                    ),
                    number + timing_at + 1 + offset,
                )
            payload.append(_srt_to_cue_text(line_text.strip()))
        cues.append(Cue(start, end, "\n".join(payload)))
        _check_count(cues, number)
    return cues


def _check_count(cues: list[Cue], number: int) -> None:
    if len(cues) > MAX_CUES:
        raise TimedTextError(
            N_("more than %(count)s cues: this is not one recording's transcript"),
            number,
            count=MAX_CUES,
        )


def _srt_to_cue_text(line: str) -> str:
    """SRT text is loose HTML: keep <i>, <b>, <u>, drop other tags, escape what WebVTT needs."""
    out = []
    position = 0
    for match in _TAG.finditer(line):
        out.append(_escape_loose(line[position : match.start()]))
        tag = match.group(0)
        if _SRT_KEPT_TAGS.match(tag):
            out.append(tag.lower())
        position = match.end()
    out.append(_escape_loose(line[position:]))
    return "".join(out)


def _escape_loose(text: str) -> str:
    """Escape ``&``, ``<``, ``>`` except where ``&`` already starts an entity."""
    pieces = []
    position = 0
    for match in _ENTITY.finditer(text):
        pieces.append(html.escape(text[position : match.start()], quote=False))
        pieces.append(match.group(0))
        position = match.end()
    pieces.append(html.escape(text[position:], quote=False))
    return "".join(pieces)


# --- plain text ----------------------------------------------------------------------------------


def plain_text(cue_text: str) -> str:
    """What a person reads and search indexes: tags removed, entities decoded, lines joined."""
    stripped = _TAG.sub("", cue_text)
    return " ".join(html.unescape(stripped).split())


def speaker(cue_text: str) -> str | None:
    """The voice a cue names (``<v Fatima>…``), if any."""
    match = _VOICE.search(cue_text)
    return " ".join(match.group(1).split()) or None if match else None


def cue_text_from_plain(text: str) -> str:
    """Markup for a line typed by a person (the timing editor): escaped, one line."""
    return html.escape(" ".join(text.split()), quote=False)


# --- writing -------------------------------------------------------------------------------------


def format_timestamp(millis: int, separator: str = ".") -> str:
    """Milliseconds as ``hh:mm:ss.mmm`` (``,`` for SRT)."""
    seconds, ms = divmod(max(0, int(millis)), 1000)
    minutes, secs = divmod(seconds, 60)
    hours, mins = divmod(minutes, 60)
    return f"{hours:02d}:{mins:02d}:{secs:02d}{separator}{ms:03d}"


def _payload_lines(text: str) -> list[str]:
    """A cue's text as lines that cannot end the cue early (no blank line, no ``-->``)."""
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return [line.replace("-->", "--&gt;") for line in lines if line] or ["&nbsp;"]


def to_webvtt(cues: Iterable[Cue]) -> str:
    """A WebVTT file: the signature, then each cue in start order (identifiers and settings
    kept). Serving this is what captions, chapters and the transcript beside the player use."""
    out = ["WEBVTT", ""]
    for cue in sorted(cues, key=lambda c: c.start_ms):
        identifier = " ".join(cue.identifier.replace("-->", "").split())
        if identifier:
            out.append(identifier)
        timing = f"{format_timestamp(cue.start_ms)} --> {format_timestamp(cue.end_ms)}"
        out.append(f"{timing} {cue.settings}".rstrip())
        out.extend(_payload_lines(cue.text))
        out.append("")
    return "\n".join(out)


def to_srt(cues: Iterable[Cue]) -> str:
    """An SRT file (numbered cues, comma times, CRLF line ends as most players expect). Voice
    tags become ``Name: `` before the line; WebVTT settings have no SRT equivalent."""
    out = []
    for number, cue in enumerate(sorted(cues, key=lambda c: c.start_ms), start=1):
        out.append(str(number))
        start = format_timestamp(cue.start_ms, ",")
        out.append(f"{start} --> {format_timestamp(cue.end_ms, ',')}")
        for line in _payload_lines(cue.text):
            out.append(_cue_text_to_srt(line))
        out.append("")
    return "\r\n".join(out) + ("\r\n" if out else "")


def _cue_text_to_srt(line: str) -> str:
    name = speaker(line)
    kept = []
    position = 0
    for match in _TAG.finditer(line):
        kept.append(line[position : match.start()])
        if _SRT_KEPT_TAGS.match(match.group(0)):
            kept.append(match.group(0))
        position = match.end()
    kept.append(line[position:])
    text = html.unescape("".join(kept)).replace("\u00a0", " ").strip()
    return f"{name}: {text}" if name else text


__all__ = [
    "MAX_CUES",
    "Cue",
    "TimedTextError",
    "cue_text_from_plain",
    "decode",
    "format_timestamp",
    "parse",
    "parse_timestamp",
    "plain_text",
    "speaker",
    "to_srt",
    "to_webvtt",
]
