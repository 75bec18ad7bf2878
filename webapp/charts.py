"""Bar charts as geometry: the indicators page draws them as server-rendered SVG.

Pure functions from ``(label, value)`` rows to positions and sizes, so the chart is computed
once, tested without a browser, and rendered by a template with no script and no inline style
(the Content-Security-Policy allows neither). Every chart is drawn beside an accessible table of
the same rows, which is what screen readers and the CSV download read; the SVG only adds the
picture. This module must stay neutral: no Flask, no database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Characters of a label drawn in the chart; the table beside it has the whole label.
LABEL_CHARACTERS = 24


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float

    @property
    def text_y(self) -> float:
        """The baseline that centres a 13 px label on the bar."""
        return round(self.y + self.height / 2 + 4.5, 1)


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars, one per row, in the order given (time series stay chronological)."""

    width: int
    height: int
    label_width: int
    bars: list[Bar]
    maximum: int

    @property
    def total(self) -> int:
        return sum(bar.value for bar in self.bars)

    @property
    def largest(self) -> Bar | None:
        return max(self.bars, key=lambda bar: bar.value, default=None)

    @property
    def axis_x(self) -> int:
        return self.label_width


def short_label(text: str, limit: int = LABEL_CHARACTERS) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (the table keeps it whole)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def horizontal_bars(
    rows: Sequence[tuple[str, int]],
    *,
    width: int = 480,
    bar_height: int = 22,
    gap: int = 8,
    label_width: int = 170,
    value_width: int = 48,
) -> BarChart:
    """Lay out one bar per row; the longest bar fills the width left after labels and values.

    An empty series is a chart with no bars (the page says "nothing yet"); a series of zeros
    draws zero-width bars rather than dividing by zero.
    """
    maximum = max((int(value) for _, value in rows), default=0)
    room = width - label_width - value_width - 8
    bars = []
    for n, (label, value) in enumerate(rows):
        length = room * int(value) / maximum if maximum else 0.0
        bars.append(
            Bar(
                label=short_label(label),
                value=int(value),
                x=label_width,
                y=gap + n * (bar_height + gap),
                width=round(length, 1),
                height=bar_height,
            )
        )
    height = gap + len(bars) * (bar_height + gap) + gap
    return BarChart(width=width, height=height, label_width=label_width, bars=bars,
                    maximum=maximum)  # fmt: skip
