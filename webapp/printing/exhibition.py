"""Lay out an exhibition: A3 portrait panels or an A4 booklet, as PDF bytes.

Pure layout with fpdf2 (PDF writing, text shaping through HarfBuzz, right-to-left lines) and
segno (QR codes): the caller hands in what the public may see — titles, texts, images already
decoded to upright sRGB JPEGs, public URLs, translated labels — and gets a file back. Both
formats share one layout, scaled: the A4 page is the A3 panel at 1/√2, so the booklet is the
exhibition in the hand. Output is a function of the input only (fixed creation date, no clock,
no randomness): a job run twice writes the same bytes. This module must never fetch anything,
never decide what is public, and never write a link that was not handed in.

Fonts are shipped under ``fonts/`` (Noto Sans, Noto Naskh Arabic, Noto Sans Hebrew, SIL Open
Font License, ``fonts/OFL.txt``) so a fresh clone prints the same on any machine; a character
none of them has is left out by fpdf2 with a warning in the log (Chinese, Devanagari… need
another font added to ``FONTS``).

fpdf2 and segno are imported where a PDF is written, not at the top: every Passages process
imports this module (through the exhibitions service the blueprints use), and loading them took
about a third of a second of each start — of every ``passages`` command, worker and web process.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

FONTS_DIR = Path(__file__).resolve().parent / "fonts"
#: family → (regular file, bold file).
FONTS: dict[str, tuple[str, str]] = {
    "sans": ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf"),
    "naskh": ("NotoNaskhArabic-Regular.ttf", "NotoNaskhArabic-Bold.ttf"),
    "hebrew": ("NotoSansHebrew-Regular.ttf", "NotoSansHebrew-Bold.ttf"),
}

#: format → (fpdf2 page format, scale of the A3 layout). A4 is A3 at 1/√2.
PAGE_FORMATS: dict[str, tuple[str, float]] = {"panels": ("A3", 1.0), "booklet": ("A4", 210 / 297)}

#: A3 portrait, millimetres; everything else is laid out in this frame and scaled.
PAGE_W, PAGE_H = 297.0, 420.0
MARGIN = 16.0
INK = (34, 34, 34)
ACCENT = (122, 38, 38)
QUIET = (96, 96, 96)

#: The pixel size an image needs in its box on the A3 panel (about 230 dpi across the width of
#: the panel; the booklet uses the same pixels at a higher density). The caller decodes
#: originals to these sizes: ``main`` for a story's first image, ``secondary`` for the others.
IMAGE_PIXELS = {"main": 2400, "secondary": 1000, "cover": 2400}
MAX_IMAGES_PER_STORY = 3

_ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")
_HEBREW = re.compile(r"[\u0590-\u05ff\ufb1d-\ufb4f]")
#: Characters that only come out right through a shaping engine (combining marks, scripts with
#: contextual forms or reordering); text without them is set without shaping.
_COMPLEX = re.compile(
    r"[\u0300-\u036f\u0590-\u08ff\u0900-\u0dff\u0e00-\u0eff\u1000-\u109f\ufb1d-\ufeff]"
)
ELLIPSIS = "…"


@dataclass(frozen=True)
class PrintImage:
    """A JPEG (upright, sRGB) with its pixel size and its description (alternative text)."""

    data: bytes
    width: int
    height: int
    description: str = ""


@dataclass(frozen=True)
class PanelStory:
    """What one panel shows of a published story; ``body`` whole, the layout cuts what fits."""

    title: str
    body: str
    url: str
    direction: str = "ltr"
    language: str = ""
    where_when: str = ""
    #: Credit and licence lines, already worded by the caller ("Licence : CC BY 4.0 …").
    credits: tuple[str, ...] = ()
    images: tuple[PrintImage, ...] = ()


@dataclass(frozen=True)
class Labels:
    """The interface words printed on the panels, already translated by the caller."""

    read_online: str = "Read this story online"
    see_collection: str = "The collection online"
    stories: str = "Stories"
    site: str = "Passages"


@dataclass(frozen=True)
class ExhibitionContent:
    title: str
    introduction: str
    url: str
    stories: tuple[PanelStory, ...]
    cover: PrintImage | None = None
    labels: Labels = field(default_factory=Labels)
    #: The PDF's creation date: the moment of the content (never the clock), for equal bytes.
    created: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    language: str = "fr"


def page_count_for(stories: int) -> int:
    """Pages of either format: the title panel and one panel per story."""
    return 1 + stories


def page_count(content: ExhibitionContent) -> int:
    return page_count_for(len(content.stories))


def render(
    content: ExhibitionContent,
    fmt: str = "panels",
    progress: Callable[[int], None] | None = None,
) -> bytes:
    """The whole document as PDF bytes; ``progress(pages done)`` after each page."""
    if fmt not in PAGE_FORMATS:
        raise ValueError(f"unknown exhibition format {fmt!r}")
    page_format, scale = PAGE_FORMATS[fmt]
    doc = _Document(page_format, scale, content)
    doc.title_panel()
    if progress:
        progress(1)
    for number, story in enumerate(content.stories, start=2):
        doc.story_panel(story, number)
        if progress:
            progress(number)
    return bytes(doc.pdf.output())


class _Document:
    """One PDF being written; coordinates are A3 millimetres, multiplied by ``s`` on the way."""

    def __init__(self, page_format: str, scale: float, content: ExhibitionContent) -> None:
        self.s = scale
        self.content = content
        self.labels = content.labels
        from fpdf import FPDF  # where a PDF is written: see the module's last paragraph

        pdf = FPDF(orientation="portrait", unit="mm", format=page_format)
        pdf.set_auto_page_break(False)
        pdf.set_margins(0, 0, 0)
        pdf.set_creation_date(content.created)
        pdf.set_title(content.title)
        pdf.set_author(content.labels.site)
        pdf.set_creator(content.labels.site)
        pdf.set_producer(content.labels.site)
        pdf.set_lang(content.language)
        # Only the families the content needs: fpdf2 parses each font file per document (about
        # 0.2 s each) and subsets every registered font when writing.
        every_text = " ".join(
            [content.title, content.introduction]
            + [f"{s.title} {s.body} {s.where_when} {' '.join(s.credits)}" for s in content.stories]
        )
        families = ["sans"]
        families += ["naskh"] if _ARABIC.search(every_text) else []
        families += ["hebrew"] if _HEBREW.search(every_text) else []
        for family in families:
            regular, bold = FONTS[family]
            pdf.add_font(family, "", str(FONTS_DIR / regular))
            pdf.add_font(family, "B", str(FONTS_DIR / bold))
        if len(families) > 1:
            pdf.set_fallback_fonts(families, exact_match=False)
        self.pdf = pdf

    # --- small tools -----------------------------------------------------------------------------

    def mm(self, value: float) -> float:
        return value * self.s

    def font(self, text: str, size: float, bold: bool = False, direction: str = "ltr") -> None:
        """The family that covers the text's script, the size scaled, and HarfBuzz shaping where
        the text needs it: right-to-left lines, Arabic joining, combining marks. Latin text is
        set without it: fpdf2 shapes every candidate line while breaking, which made a panel of
        plain French text ten times slower for kerning alone."""
        family = "sans"
        if _ARABIC.search(text):
            family = "naskh"
        elif _HEBREW.search(text):
            family = "hebrew"
        self.pdf.set_font(family, "B" if bold else "", size * self.s)
        if direction == "rtl" or family != "sans" or _COMPLEX.search(text):
            self.pdf.set_text_shaping(True, direction=direction)
        else:
            self.pdf.set_text_shaping(False)

    def split(self, text: str, width: float, line_height: float, align: str) -> list[str]:
        """The lines fpdf2 would break ``text`` into (logical order), without writing them."""
        from fpdf.enums import MethodReturnValue

        return self.pdf.multi_cell(
            self.mm(width), self.mm(line_height), text, align=align, dry_run=True,
            output=MethodReturnValue.LINES, padding=0,
        )  # fmt: skip

    def fitted(
        self, text: str, width: float, line_height: float, max_lines: int, align: str
    ) -> str:
        """The beginning of ``text`` that fits ``max_lines`` lines, ending in ``…`` when cut.

        Why not a search over word counts: fpdf2 shapes each candidate line with HarfBuzz while
        breaking, so one break of a long story costs tens of milliseconds. Only a generous
        estimate of what could fit is broken once; the lines that fit are kept as they were
        broken, and the last one is shortened by words until it holds the ellipsis.
        """
        if max_lines <= 0:
            return ""
        per_line = self.mm(width) / (self.pdf.font_size * 0.35)  # narrower than any average
        limit = int(max_lines * per_line) + 40
        while True:
            lines = self.split(text[:limit], width, line_height, align)
            if len(lines) > max_lines or limit >= len(text):
                break
            limit *= 2
        if len(lines) <= max_lines:
            return text
        kept = lines[:max_lines]
        words = kept[-1].split()
        while words:
            last = " ".join(words).rstrip(" ,;:.-–—،؛") + ELLIPSIS
            if len(self.split(last, width, line_height, align)) <= 1:
                break
            words.pop()
        kept[-1] = last if words else ELLIPSIS
        return "\n".join(kept)

    def write(
        self,
        text: str,
        x: float,
        y: float,
        width: float,
        line_height: float,
        *,
        size: float,
        bold: bool = False,
        direction: str = "ltr",
        max_lines: int = 1000,
        colour: tuple[int, int, int] = INK,
        link: str | None = None,
    ) -> float:
        """Write a block of text in its box and return the y below it (A3 millimetres)."""
        text = _clean(text)
        if not text:
            return y
        self.font(text, size, bold, direction)
        align = "R" if direction == "rtl" else "L"
        text = self.fitted(text, width, line_height, max_lines, align)
        if not text:
            return y
        from fpdf.enums import XPos, YPos

        self.pdf.set_text_color(*colour)
        self.pdf.set_xy(self.mm(x), self.mm(y))
        self.pdf.multi_cell(
            self.mm(width), self.mm(line_height), text, align=align, padding=0,
            new_x=XPos.LMARGIN, new_y=YPos.NEXT, link=link or "",
        )  # fmt: skip
        return self.pdf.get_y() / self.s

    def image(self, image: PrintImage, x: float, y: float, width: float, height: float) -> float:
        """Fit an image in a box (centred across, top-aligned); return its height."""
        ratio = min(width / image.width, height / image.height)
        w, h = image.width * ratio, image.height * ratio
        self.pdf.image(
            io.BytesIO(image.data),
            x=self.mm(x + (width - w) / 2),
            y=self.mm(y),
            w=self.mm(w),
            h=self.mm(h),
            alt_text=image.description or None,
        )
        return h

    def qr(self, url: str, x: float, y: float, side: float) -> None:
        """A QR code of ``url`` drawn as vector squares, and a link annotation over it."""
        import segno

        code = segno.make(url, error="m")
        rows = [list(row) for row in code.matrix_iter(border=2)]
        module = side / len(rows)
        self.pdf.set_fill_color(0, 0, 0)
        for r, row in enumerate(rows):
            start = None
            for c, dark in enumerate([*row, 0]):
                if dark and start is None:
                    start = c
                elif not dark and start is not None:
                    self.pdf.rect(
                        self.mm(x + start * module), self.mm(y + r * module),
                        self.mm((c - start) * module), self.mm(module), style="F",
                    )  # fmt: skip
                    start = None
        self.pdf.link(self.mm(x), self.mm(y), self.mm(side), self.mm(side), url, alt_text=url)

    def header(self, number: int) -> None:
        pdf = self.pdf
        pdf.set_fill_color(*ACCENT)
        pdf.rect(0, 0, self.mm(PAGE_W), self.mm(8), style="F")
        heading = f"{self.labels.site} · {self.content.title}"
        self.write(heading, MARGIN, 10, PAGE_W - 2 * MARGIN - 30, 6, size=11, max_lines=1,
                   colour=QUIET)  # fmt: skip
        total = page_count(self.content)
        self.font("0", 11)
        pdf.set_text_color(*QUIET)
        pdf.set_xy(self.mm(PAGE_W - MARGIN - 30), self.mm(10))
        pdf.cell(self.mm(30), self.mm(6), f"{number} / {total}", align="R")

    def footer(self, url: str, label: str, lines: list[str]) -> None:
        """The QR code at the bottom right, its label and URL beside it, credits on the left."""
        side = 42.0
        top = PAGE_H - MARGIN - side
        pdf = self.pdf
        pdf.set_draw_color(*QUIET)
        pdf.set_line_width(self.mm(0.3))
        pdf.line(self.mm(MARGIN), self.mm(top - 6), self.mm(PAGE_W - MARGIN), self.mm(top - 6))
        self.qr(url, PAGE_W - MARGIN - side, top, side)
        left_w = PAGE_W - 2 * MARGIN - side - 8
        y = self.write(label, MARGIN, top, left_w, 7, size=14, bold=True, colour=ACCENT)
        y = self.write(url, MARGIN, y, left_w, 5.5, size=10, max_lines=2, colour=QUIET, link=url)
        y += 3
        for line in lines:
            y = self.write(line, MARGIN, y, left_w, 5.5, size=10, max_lines=2)

    # --- pages -----------------------------------------------------------------------------------

    def title_panel(self) -> None:
        content, labels = self.content, self.labels
        self.pdf.add_page()
        self.header(1)
        width = PAGE_W - 2 * MARGIN
        y = self.write(content.title, MARGIN, 30, width, 17, size=40, bold=True, max_lines=3,
                       colour=ACCENT)  # fmt: skip
        y += 6
        footer_top = PAGE_H - MARGIN - 42 - 12
        if content.cover is not None:
            y += self.image(content.cover, MARGIN, y, width, 130) + 8
        titles = [f"{n}. {story.title}" for n, story in enumerate(content.stories, start=2)]
        # The list of stories (every title, for hanging the panels in order) gets what it needs
        # up to half the room left; the introduction takes the rest.
        toc_height = min(len(titles) * 6 + 10, (footer_top - y) / 2)
        intro_bottom = footer_top - toc_height
        max_intro = int((intro_bottom - y) // 7.5)
        y = self.write(content.introduction, MARGIN, y, width, 7.5, size=15, max_lines=max_intro)
        y = max(y + 6, intro_bottom)
        y = self.write(labels.stories, MARGIN, y, width, 7, size=13, bold=True, colour=ACCENT)
        half = (width - 8) / 2
        room = int((footer_top - y) // 6)
        rows = max(1, -(-len(titles) // 2))
        for index, line in enumerate(titles):
            column, row = divmod(index, rows) if rows <= room else (index % 2, index // 2)
            if row >= room:
                break  # more than fit: the panels carry their own numbers and titles
            self.write(line, MARGIN + column * (half + 8), y + row * 6, half, 6, size=10.5,
                       max_lines=1)  # fmt: skip
        self.footer(content.url, labels.see_collection, [])

    def story_panel(self, story: PanelStory, number: int) -> None:
        labels = self.labels
        self.pdf.add_page()
        self.header(number)
        width = PAGE_W - 2 * MARGIN
        rtl = story.direction
        y = self.write(story.title, MARGIN, 24, width, 15, size=34, bold=True, direction=rtl,
                       max_lines=3, colour=ACCENT)  # fmt: skip
        y = self.write(story.where_when, MARGIN, y + 1, width, 7, size=14, max_lines=2,
                       colour=QUIET) + 5  # fmt: skip
        footer_top = PAGE_H - MARGIN - 42 - 12
        images = story.images[:MAX_IMAGES_PER_STORY]
        if images:
            main_height = 165.0 if len(images) == 1 else 140.0
            y += self.image(images[0], MARGIN, y, width, main_height) + 5
            others = images[1:]
            if others:
                gap = 6.0
                each = (width - gap * (len(others) - 1)) / len(others)
                heights = [
                    self.image(img, MARGIN + n * (each + gap), y, each, 55.0)
                    for n, img in enumerate(others)
                ]
                y += max(heights) + 5
        max_lines = int((footer_top - y) // 7.5)
        self.write(story.body, MARGIN, y, width, 7.5, size=15, direction=rtl,
                   max_lines=max_lines)  # fmt: skip
        self.footer(story.url, labels.read_online, list(story.credits))


def _clean(text: str) -> str:
    """Printable text: control characters out, paragraphs kept, runs of blank lines folded."""
    text = unicodedata.normalize("NFC", text or "")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C"
                   or ch in "\u200c\u200d\u200e\u200f")  # fmt: skip
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n|\n", text)]
    return "\n".join(_NEUTRAL_RUN.sub(_shorten_run, p) for p in paragraphs if p)


#: A long run of characters without a letter or digit (a separator line of dashes or dots, a
#: repeated ornament). fpdf2's bidirectional algorithm resolves such a run recursively and, in a
#: right-to-left paragraph, fails past about a thousand characters; on paper the run is noise.
_NEUTRAL_RUN = re.compile(r"[\W_]{80,}")


def _shorten_run(match: re.Match[str]) -> str:
    return match.group(0)[:40].rstrip() + " " + ELLIPSIS
