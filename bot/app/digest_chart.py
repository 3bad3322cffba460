"""The digest's chart: weekly NPS with its 95 % margin band, and the closure rate, as a PNG.

Drawn with matplotlib's object API (`Figure` on a `FigureCanvasAgg`): no pyplot, so nothing
global is chosen or kept (no backend switch at import, no figure registry that grows in a
long-running bot), and the chart renders in any thread.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.domain.digest import WeekPoint

WIDTH_PX = 1200
HEIGHT_PX = 600
DPI = 100
NPS_COLOUR = "#1f6feb"
CLOSURE_COLOUR = "#2da44e"


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def chart_png(points: Sequence[WeekPoint], title: str) -> bytes:
    """A WIDTH_PX × HEIGHT_PX PNG. Weeks without responses leave a gap in the NPS line (and
    weeks without cases one in the closure rate), rather than a misleading zero."""
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    xs = list(range(len(points)))
    nps = [_nan(p.nps) for p in points]
    low = [_nan(p.nps - p.margin) if p.nps is not None and p.margin is not None else math.nan for p in points]
    high = [
        _nan(p.nps + p.margin) if p.nps is not None and p.margin is not None else math.nan for p in points
    ]
    axes.fill_between(xs, low, high, color=NPS_COLOUR, alpha=0.18, linewidth=0, label="NPS ± 95% margin")
    axes.plot(xs, nps, color=NPS_COLOUR, marker="o", linewidth=2, label="NPS")
    axes.set_ylim(-100, 100)
    axes.axhline(0, color="#8c959f", linewidth=0.8)
    axes.set_ylabel("NPS")
    axes.set_xticks(xs, [p.label.split("-")[-1] for p in points])
    axes.set_xlabel("ISO week")
    axes.grid(axis="y", alpha=0.3)
    rate = axes.twinx()
    closure = [_nan(None if p.closure_rate is None else 100 * p.closure_rate) for p in points]
    rate.plot(
        xs, closure, color=CLOSURE_COLOUR, marker="s", linewidth=2, linestyle="--", label="closure rate"
    )
    rate.set_ylim(0, 100)
    rate.set_ylabel("closure rate (%)")
    handles = axes.get_legend_handles_labels()[0] + rate.get_legend_handles_labels()[0]
    labels = axes.get_legend_handles_labels()[1] + rate.get_legend_handles_labels()[1]
    axes.legend(handles, labels, loc="lower left", fontsize="small")
    axes.set_title(title)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()
