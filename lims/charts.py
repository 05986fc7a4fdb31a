"""Charts drawn on the server as PNG (matplotlib, Agg): condition logs, control charts.

PNG rather than SVG because the CSP forbids inline styles, which matplotlib's SVG relies on; a PNG served from its
own route needs nothing from the page.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import matplotlib

matplotlib.use("Agg")

from matplotlib import dates as mdates  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


@dataclass
class Series:
    label: str
    points: Sequence[tuple[dt.datetime | dt.date, Decimal | float | None]]
    marker: str = ""


@dataclass
class Limit:
    value: Decimal | float
    label: str
    style: str = "--"
    color: str = "#b02a37"


@dataclass
class LineChart:
    title: str
    y_label: str
    series: list[Series] = field(default_factory=list)
    limits: list[Limit] = field(default_factory=list)
    width_in: float = 9.0
    height_in: float = 3.2


def render_png(chart: LineChart) -> bytes:
    """Draw ``chart`` and return PNG bytes. Decimals are converted for drawing only (never for a verdict)."""
    figure = Figure(figsize=(chart.width_in, chart.height_in), dpi=100, layout="constrained")
    axes = figure.subplots()
    has_data = False
    for series in chart.series:
        points = [(x, float(y)) for x, y in series.points if y is not None]
        if not points:
            continue
        has_data = True
        xs, ys = zip(*points)
        axes.plot(xs, ys, label=series.label, marker=series.marker or None, linewidth=1.4, markersize=4)
    for limit in chart.limits:
        axes.axhline(float(limit.value), linestyle=limit.style, color=limit.color, linewidth=1, label=limit.label)
    if not has_data:
        axes.text(0.5, 0.5, "—", transform=axes.transAxes, ha="center", va="center", fontsize=20, color="#888")
    axes.set_title(chart.title, fontsize=11)
    axes.set_ylabel(chart.y_label)
    axes.grid(True, alpha=0.3)
    locator = mdates.AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%d/%m/%Y"))
    axes.tick_params(axis="x", labelrotation=30)
    for label in axes.get_xticklabels():
        label.set_horizontalalignment("right")
    if axes.get_legend_handles_labels()[0]:  # a legend without entries makes matplotlib warn
        axes.legend(fontsize=8, loc="best")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
