"""The columns of ``stories.csv``, shared by the BagIt export and the bulk import, and how one
cell is written and read back.

One table serves both ways, so that an export can be imported as it is and an archivist's own
spreadsheet needs only the same headers. Two encodings, documented in the bag's
``data/README.txt`` and in ``docs/exports-and-imports.md``:

- **Several values in one cell** (places, themes, collections, images…) are joined with ``|``;
  a ``|`` or ``\\`` inside a value is written ``\\|`` or ``\\\\``.
- **Formula neutralisation**: a spreadsheet runs a cell that starts with ``=``, ``+``, ``-``,
  ``@``, a tab or a carriage return as a formula (CSV injection). Such a cell is written with a
  leading ``'`` (shown as text by spreadsheets), and the import removes that one ``'`` again, so
  a title such as "-- Souvenirs" survives the round trip.

Pure functions: no database, no Flask.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Separator of several values in one cell.
SEPARATOR = "|"
ESCAPE = "\\"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: What spreadsheets need to open a CSV as UTF-8 (Excel reads a file without it as ANSI).
BOM = "\ufeff"


@dataclass(frozen=True)
class Column:
    name: str
    multiple: bool = False
    #: The values line up with ``images`` by position, so an empty value is kept.
    positional: bool = False
    #: What the column holds, for the bag's README and the import's error messages.
    meaning: str = ""


COLUMNS: tuple[Column, ...] = (
    Column("identifier", meaning="stable identifier of the record (in an export: the story's "
           "public URL); an import uses it to skip rows it already imported"),
    Column("title", meaning="title, in the story's language (required)"),
    Column("description", meaning="the story's text"),
    Column("language", meaning="BCP 47 language tag: fr, ar, zh-Hant… (required)"),
    Column("places", multiple=True, meaning="places named by the story"),
    Column("period", meaning="1962, 1962-03, 1962-1975, 1960s or ~1962"),
    Column("themes", multiple=True, meaning="themes"),
    Column("licence", meaning="CC-BY-4.0, CC-BY-SA-4.0, CC-BY-NC-4.0, CC-BY-NC-SA-4.0, CC0-1.0 "
           "or all-rights-reserved (required)"),
    Column("credit", meaning="credit line shown with the story"),
    Column("contributor_name", meaning="name or pseudonym shown with the story"),
    Column("summary", meaning="short summary"),
    Column("organisation", meaning="name of the organisation the story belongs to"),
    Column("collections", multiple=True, meaning="slugs of the published collections holding "
           "the story (informational: an import does not change collections)"),
    Column("date_published", meaning="when the story was published (ISO 8601, UTC)"),
    Column("url", meaning="the story's public page (informational)"),
    Column("images", multiple=True, meaning="image files, relative to the images folder (in a "
           "bag: relative to data/)"),
    Column("image_sha256", multiple=True, positional=True,
           meaning="SHA-256 of each image file, in the same order (checked by an import)"),
    Column("alt_texts", multiple=True, positional=True,
           meaning="text alternative of each image, in the same order"),
    Column("kind", meaning="story (or empty) or document: an archive document, with its "
           "provenance in the source_ columns"),
    Column("source_institution", meaning="an archive document's holding institution"),
    Column("source_reference", meaning="an archive document's call number (cote)"),
    Column("source_fonds", meaning="an archive document's fonds or series"),
    Column("source_producer", meaning="an archive document's producer or author"),
)  # fmt: skip

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
MULTIPLE = frozenset(c.name for c in COLUMNS if c.multiple)
POSITIONAL = frozenset(c.name for c in COLUMNS if c.positional)
REQUIRED = ("title", "language", "licence")


def _quoted_formula(text: str) -> bool:
    return text.startswith("'") and text.lstrip("'").startswith(FORMULA_STARTS)


def neutralise(text: str) -> str:
    """The cell as written: a leading ``'`` before anything a spreadsheet would run (and before
    a text that already looks quoted that way, so that :func:`restore` gives it back whole)."""
    if text.startswith(FORMULA_STARTS) or _quoted_formula(text):
        return "'" + text
    return text


def restore(text: str) -> str:
    """Undo :func:`neutralise`: remove the one quote it adds."""
    return text[1:] if _quoted_formula(text) else text


def join_values(values: list[str]) -> str:
    """Several values in one cell, ``|``-separated, ``|`` and ``\\`` inside values escaped."""
    return SEPARATOR.join(
        v.replace(ESCAPE, ESCAPE + ESCAPE).replace(SEPARATOR, ESCAPE + SEPARATOR) for v in values
    )


def split_values(cell: str, *, keep_blanks: bool = False) -> list[str]:
    """The values of a multi-valued cell (inverse of :func:`join_values`); blanks are dropped
    unless ``keep_blanks`` (values that line up with the images by position)."""
    values: list[str] = []
    current: list[str] = []
    chars = iter(cell)
    for char in chars:
        if char == ESCAPE:
            current.append(next(chars, ESCAPE))
        elif char == SEPARATOR:
            values.append("".join(current))
            current = []
        else:
            current.append(char)
    values.append("".join(current))
    if keep_blanks:
        return [v.strip() for v in values] if cell.strip() else []
    return [v.strip() for v in values if v.strip()]


def write_cell(column: str, value: str | list[str] | None) -> str:
    """One cell of an export."""
    if value is None:
        return ""
    text = join_values(value) if isinstance(value, list) else value
    return neutralise(text)


def read_cell(column: str, cell: str) -> str | list[str]:
    """One cell of an import: a list for multi-valued columns, else stripped text."""
    text = restore(cell)
    if column in MULTIPLE:
        return split_values(text, keep_blanks=column in POSITIONAL)
    return text.strip() if column != "description" else text
