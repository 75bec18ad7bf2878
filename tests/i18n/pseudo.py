"""A pseudo-locale for tests: every translation is its English text between ⟦ and ⟧.

Rendered in it, a page shows at a glance which words went through the catalog (inside the
markers) and which did not (outside them): a string the code writes without ``_()``, a label
built from a stored code, a service message that skipped ``gettext``. The catalog is extracted
live from the sources (the same ``babel.cfg`` as ``pybabel extract``), so a string is wrapped
exactly when the code asks the catalog for it; nothing of it is shipped to users.

The locale is Esperanto (``eo``): Babel knows it (dates, numbers, plural rules) and the site
never offers it, so no real catalog can answer for it.
"""

from __future__ import annotations

import html.parser
import re
from collections.abc import Iterable
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo

REPO = Path(__file__).resolve().parents[2]
LOCALE = "eo"
OPEN, CLOSE = "⟦", "⟧"


def wrap(text: str) -> str:
    return f"{OPEN}{text}{CLOSE}"


def extracted() -> list[tuple[str, int, str | tuple[str, ...], str | None]]:
    """Every message the sources ask the catalog for, as ``pybabel extract`` finds them:
    ``(file, line, message, context)``."""
    with (REPO / "webapp/translations/babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    return [
        (file, line, message, context)
        for file, line, message, _comments, context in extract_from_dir(
            str(REPO), method_map, options_map
        )
    ]


def build_catalog(folder: Path) -> Path:
    """Write ``<folder>/eo/LC_MESSAGES/messages.mo`` with every extracted message wrapped."""
    catalog = Catalog(locale=LOCALE)
    for _file, _line, message, context in extracted():
        if isinstance(message, tuple | list):
            singular, plural = message[0], message[1]
            catalog.add((singular, plural), (wrap(singular), wrap(plural)), context=context)
        else:
            catalog.add(message, wrap(message), context=context)
    target = folder / LOCALE / "LC_MESSAGES"
    target.mkdir(parents=True, exist_ok=True)
    with (target / "messages.mo").open("wb") as out:
        write_mo(out, catalog)
    return folder


_INNERMOST = re.compile(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}")
#: What may stand outside the markers whatever the language: digits, punctuation, symbols.
_NEUTRAL = re.compile(r"^[\W\d_]*$")
#: Machine values people copy rather than read: addresses, paths, e-mail addresses, and codes
#: of capitals and digits with at least one digit (class codes, references), and access codes
#: (two groups of four, which may be letters only: webapp.services.classes.new_access_code).
_MACHINE = re.compile(
    r"https?://\S+|(?<![\w.])/[\w./?=&%-]*|\S+@\S+\.\w+|"
    r"(?<!\w)(?=[A-Z0-9-]*\d)[A-Z0-9]+(?:-[A-Z0-9]+)*(?!\w)|"
    r"(?<!\w)[A-Z0-9]{4}-[A-Z0-9]{4}(?!\w)"
)


def outside_markers(text: str) -> str:
    """``text`` without its marked parts (markers nest: a label inside a sentence)."""
    previous = None
    while previous != text:
        previous, text = text, _INNERMOST.sub(" ", text)
    return text


def cldr_words(locale: str = LOCALE) -> set[str]:
    """Names Babel's CLDR data gives in the locale (months, days, languages, territories):
    translated by CLDR, not by our catalog, and so not ours to mark."""
    data = Locale.parse(locale)
    words: set[str] = set()
    for context in data.months.values():
        for width in context.values():
            words.update(width.values())
    for context in data.days.values():
        for width in context.values():
            words.update(width.values())
    words.update(data.languages.values())
    words.update(data.territories.values())
    return {w for w in words if w}


#: Attributes people read (or hear, with a screen reader).
VISIBLE_ATTRIBUTES = ("title", "alt", "placeholder", "aria-label")
_BUTTON_INPUTS = {"submit", "button", "reset"}


class VisibleText(html.parser.HTMLParser):
    """The page's text nodes (``<title>`` included, scripts and styles excluded) and the
    attributes people read, each with a short description of where it was found."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []
        self._stack: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in VISIBLE_ATTRIBUTES:
            if values.get(name):
                self.found.append((f"<{tag} {name}>", values[name] or ""))
        if tag == "input" and (values.get("type") or "").lower() in _BUTTON_INPUTS:
            self.found.append(("<input value>", values.get("value") or ""))
        if tag in ("script", "style", "template"):
            self._skip += 1
        if tag not in _VOID:
            self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template") and self._skip:
            self._skip -= 1
        while self._stack:
            if self._stack.pop() == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            where = self._stack[-1] if self._stack else "document"
            if where in _MACHINE_ELEMENTS:
                return
            self.found.append((f"<{where}> text", data))


#: Elements that hold machine values (tokens, links to copy, commands, throttle keys).
_MACHINE_ELEMENTS = {"code", "kbd", "samp"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}  # fmt: skip


class Allowed:
    """Words that may stand outside the markers: people's own content, CLDR names, the brand.

    Matched as whole words (never inside a longer word), longest first."""

    def __init__(self, words: Iterable[str]) -> None:
        ordered = sorted({" ".join(w.split()) for w in words if w and w.strip()}, key=len,
                         reverse=True)  # fmt: skip
        self.pattern = (
            re.compile("|".join(rf"(?<!\w){re.escape(w)}(?!\w)" for w in ordered))
            if ordered
            else None
        )

        self.texts = ordered

    def remove(self, text: str) -> str:
        text = " ".join(text.split())
        return self.pattern.sub(" ", text) if self.pattern else text

    def is_excerpt(self, text: str) -> bool:
        """A long enough piece of one allowed text: a search snippet, a shortened title."""
        piece = " ".join(text.split()).strip(" …·—-:;,.")
        return len(piece) >= 20 and any(piece in whole for whole in self.texts)


def untranslated(texts: Iterable[tuple[str, str]], allowed: Allowed) -> list[str]:
    """Each visible text that keeps words once its marked parts and ``allowed`` are removed."""
    problems = []
    for where, text in texts:
        rest = allowed.remove(outside_markers(text))
        if _NEUTRAL.match(_MACHINE.sub(" ", rest)):
            continue
        if all(allowed.is_excerpt(part) for part in _INNERMOST.split(text) if part.strip(" ·—")):
            continue
        problems.append(f"{where}: {' '.join(text.split())!r}")
    return problems


def page_problems(page: str, allowed: Allowed) -> list[str]:
    parser = VisibleText()
    parser.feed(page)
    parser.close()
    return untranslated(parser.found, allowed)


def json_problems(body: object, allowed: Allowed, path: str = "$") -> list[str]:
    """Fields of a JSON answer that people read: ``message`` and ``*_label``."""
    found: list[tuple[str, str]] = []

    def walk(value: object, where: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, str) and (key == "message" or key.endswith("_label")):
                    found.append((f"{where}.{key}", item))
                else:
                    walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            for n, item in enumerate(value):
                walk(item, f"{where}[{n}]")

    walk(body, path)
    return untranslated(found, allowed)
