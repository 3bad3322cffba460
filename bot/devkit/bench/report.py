"""The bench's figures: each against its goal (issue 9's table), printed as a table and written
as JSON for comparing runs."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (p99 of 20 values is the slowest): no interpolation hides an outlier."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share / 100 * len(ordered)) - 1))]


@dataclass(frozen=True)
class Figure:
    measure: str
    value: float
    unit: str
    goal: str = ""
    met: bool | None = None  # None: no goal, shown for context
    note: str = ""

    def shown(self) -> str:
        if math.isnan(self.value):
            return "n/a"
        if math.isinf(self.value):
            return "never"
        if float(self.value).is_integer() or abs(self.value) >= 100:
            text = f"{self.value:,.0f}"
        else:
            text = f"{self.value:.2f}" if self.unit in ("×", "s") else f"{self.value:.1f}"
        return f"{text} {self.unit}".strip()


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # breakage: lost or doubled posts, errors
    notes: list[str] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)

    def add(self, *figures: Figure) -> None:
        self.figures.extend(figures)

    def table(self) -> str:
        rows = [
            ("measure", "figure", "goal", ""),
            *((f.measure, f.shown(), f.goal, _mark(f)) for f in self.figures),
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        lines = [f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:<{widths[2]}}  {d}".rstrip() for a, b, c, d in rows]
        lines.insert(1, "-" * len(lines[0]))
        for figure in self.figures:
            if figure.note:
                lines.append(f"  {figure.measure}: {figure.note}")
        return "\n".join(lines)

    def write_json(self, path: Path) -> None:
        data = {
            "context": self.context,
            "figures": [
                asdict(f) | {"value": None if math.isnan(f.value) else f.value} for f in self.figures
            ],
            "problems": self.problems,
            "notes": self.notes,
        }
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _mark(figure: Figure) -> str:
    return {True: "met", False: "MISSED", None: ""}[figure.met]
