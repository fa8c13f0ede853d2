"""Bars per month drawn on the server: the geometry of an SVG chart of a monthly table (the template draws it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from portal.indicators.figures import Table

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 12, 40  # room for the value axis and the month labels (two lines)
GROUP_FILL = 0.8  # share of a month's width covered by its bars


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: int  # the table's column, from 0
    value: int
    month: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    ticks: list[tuple[float, int]]  # (y, value) of the horizontal grid lines
    # (x, month, year) under each group: the year only under the first month and each January, so that
    # twelve labels fit under twelve narrow groups.
    labels: list[tuple[float, str, str]]
    series: tuple[str, ...]
    grid: tuple[int, int]  # x where the grid lines start and end


def bar_chart(table: Table, month_label: Callable[[date], str], month_name: Callable[[date], str]) -> Chart:
    """Grouped bars, one group per row (month), one bar per numeric column.

    `month_label` names a month in full (a bar's tooltip), `month_name` without its year (the axis).
    """
    series = table.headings[1:]
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _rounded_up(max((v for row in table.rows for v in row[1:]), default=0))
    group = plot_width / max(len(table.rows), 1)
    bar_width = group * GROUP_FILL / max(len(series), 1)
    baseline = TOP + plot_height
    bars, labels = [], []
    for index, (month, *values) in enumerate(table.rows):
        label = month_label(month)
        start = LEFT + index * group + group * (1 - GROUP_FILL) / 2
        year = str(month.year) if index == 0 or month.month == 1 else ""
        labels.append((LEFT + (index + 0.5) * group, month_name(month), year))
        for number, value in enumerate(values):
            height = plot_height * value / top
            bars.append(Bar(start + number * bar_width, baseline - height, bar_width, height, number, value, label))
    ticks = [(baseline - plot_height * value / top, value) for value in (0, top // 2, top)]
    return Chart(WIDTH, HEIGHT, bars, ticks, labels, series, (LEFT, WIDTH - RIGHT))


def _rounded_up(value: int) -> int:
    """The top of the axis: 1, 2 or 5 times a power of ten, at least the largest value (and at least 2)."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= max(value, 2):
                return step * magnitude
        magnitude *= 10
