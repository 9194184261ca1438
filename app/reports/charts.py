"""Chart geometry for the reports page: bars, labels and values in SVG user units,
computed here and drawn by one template macro as inline SVG (no script, no library,
nothing fetched), so that a chart is on the page as soon as the HTML is.

Every chart has a title and a one-line description for screen readers, and each bar a
tooltip; the page shows the same numbers in a table beside it. Colours are CSS classes
(the stage palette, and won/lost/weighted), so they follow the stylesheet.

Money is never drawn on one axis across currencies: the forecast gets one chart per
currency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

# User units; the SVG scales to its box (text with it), so the width is chosen for a
# phone: about 320 CSS pixels show 12-unit text at over 10 pixels (and the stylesheet
# caps the width on large screens, where it would grow to a poster).
WIDTH = 360
# Horizontal bars: a line of text (label, value) over each bar.
TEXT_LINE = 16
BAR = 16
ROW_GAP = 10
ROW = TEXT_LINE + BAR + ROW_GAP
# Characters of a label that fit beside the value on one line.
LABEL_MAX = 34
# Column charts: at most this many column labels, so that they never overlap.
COLUMN_LABELS_MAX = 7


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    tooltip: str


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "start"
    css: str = ""
    tooltip: str = ""


@dataclass
class Chart:
    """A drawing: its size, bars, labels, and what it shows in words."""

    title: str
    description: str
    height: float
    width: float = WIDTH
    bars: list[Bar] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    baseline: tuple[float, float, float, float] | None = None

    @property
    def empty(self) -> bool:
        return not self.bars


@dataclass(frozen=True)
class Segment:
    """A part of a bar: its value and colour class."""

    value: float
    css: str
    tooltip: str = ""


@dataclass(frozen=True)
class Row:
    """One bar of a chart (stacked segments), its label and the value written by it."""

    label: str
    segments: Sequence[Segment]
    value_text: str
    css: str = ""


def short(text: str, limit: int = LABEL_MAX) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (the tooltip has it all)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _scale(total: float, largest: float, room: float) -> float:
    return room * total / largest if largest > 0 else 0.0


def bar_chart(title: str, description: str, rows: Sequence[Row], centered: bool = False) -> Chart:
    """Horizontal bars, one per row, segments stacked, each under a line with its label
    (start) and value (end); ``centered`` draws a funnel (bars centred on one axis)."""
    chart = Chart(title=title, description=description, height=ROW * max(len(rows), 1))
    largest = max((sum(s.value for s in r.segments) for r in rows), default=0.0)
    for index, row in enumerate(rows):
        top = index * ROW
        total = sum(s.value for s in row.segments)
        width = _scale(total, largest, WIDTH)
        x = (WIDTH - width) / 2 if centered else 0.0
        for segment in row.segments:
            part = _scale(segment.value, largest, WIDTH)
            if part > 0:
                chart.bars.append(
                    Bar(
                        x=round(x, 2),
                        y=top + TEXT_LINE,
                        width=round(max(part, 1.0), 2),
                        height=BAR,
                        css=segment.css,
                        tooltip=segment.tooltip or f"{row.label}: {row.value_text}",
                    )
                )
                x += part
        room = LABEL_MAX - len(row.value_text)
        chart.labels.append(
            Label(x=0, y=top + TEXT_LINE / 2, text=short(row.label, room), tooltip=row.label)
        )
        chart.labels.append(
            Label(
                x=WIDTH,
                y=top + TEXT_LINE / 2,
                text=row.value_text,
                anchor="end",
                css="chart-value",
            )
        )
    return chart


@dataclass(frozen=True)
class Column:
    """One column of a column chart: its label under it, segments, value above it.
    ``overlay`` segments are drawn over each other (the largest first) instead of
    stacked, e.g. a weighted amount inside the full amount."""

    label: str
    segments: Sequence[Segment]
    value_text: str
    overlay: bool = False


def column_chart(title: str, description: str, columns: Sequence[Column]) -> Chart:
    """Vertical bars over a baseline, labels under them."""
    plot_top, plot_height, label_room = 22, 150, 24
    chart = Chart(title=title, description=description, height=plot_top + plot_height + label_room)
    count = max(len(columns), 1)
    slot = (WIDTH - 8) / count
    # Every n-th column is labelled when there are many (a long period by month).
    every = -(-count // COLUMN_LABELS_MAX)
    bar_width = min(56.0, slot * 0.6)
    baseline = float(plot_top + plot_height)

    def height_of(column: Column) -> float:
        values = [s.value for s in column.segments]
        return max(values, default=0.0) if column.overlay else sum(values)

    largest = max((height_of(c) for c in columns), default=0.0)
    for index, column in enumerate(columns):
        center = 4 + slot * index + slot / 2
        x = center - bar_width / 2
        segments = (
            sorted(column.segments, key=lambda s: -s.value) if column.overlay else column.segments
        )
        bottom: float = baseline
        for segment in segments:
            tall = _scale(segment.value, largest, plot_height)
            if tall <= 0:
                continue
            tall = max(tall, 1.0)
            top = (baseline - tall) if column.overlay else (bottom - tall)
            chart.bars.append(
                Bar(
                    x=round(x, 2),
                    y=round(top, 2),
                    width=round(bar_width, 2),
                    height=round(tall, 2),
                    css=segment.css,
                    tooltip=segment.tooltip or f"{column.label}: {column.value_text}",
                )
            )
            if not column.overlay:
                bottom -= tall
        peak = baseline - _scale(height_of(column), largest, plot_height)
        if index % every:
            continue
        chart.labels.append(
            Label(
                x=round(center, 2),
                y=round(peak - 8, 2),
                text=column.value_text,
                anchor="middle",
                css="chart-value",
            )
        )
        chart.labels.append(
            Label(
                x=round(center, 2),
                y=baseline + 14,
                text=short(column.label, 10),
                anchor="middle",
                tooltip=column.label,
            )
        )
    chart.baseline = (4, baseline, WIDTH - 4, baseline)
    return chart
