"""`/loop causes`: closed loops' root causes per department, with their outcomes and remedies,
over a rolling period (the last N days up to now, in UTC), grouped here from storage's counts."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.vocabulary import Outcome

NAMED_PERIODS = {"week": 7, "month": 30, "quarter": 90, "year": 365}
MAX_DAYS = 3660
_DAYS = re.compile(r"^(\d{1,4})d$")


def period_days(word: str) -> int | None:
    """`week`, `month`, `quarter`, `year` or `Nd` (1–3660) as a number of days; None otherwise."""
    word = word.lower()
    if word in NAMED_PERIODS:
        return NAMED_PERIODS[word]
    match = _DAYS.match(word)
    if match and 1 <= int(match.group(1)) <= MAX_DAYS:
        return int(match.group(1))
    return None


@dataclass(frozen=True)
class CauseTally:
    """Closed loops sharing a department, root cause, outcome and remedy: one grouped row."""

    department: str
    root_cause: str | None
    outcome: str | None
    remedy: str | None
    count: int


@dataclass
class RootCause:
    name: str | None
    count: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    remedies: Counter[str | None] = field(default_factory=Counter)

    def top_remedies(self, n: int) -> list[tuple[str | None, int]]:
        """Most used first; ties by name, so the answer is the same on every run."""
        return sorted(self.remedies.items(), key=lambda r: (-r[1], r[0] or ""))[:n]


@dataclass
class DepartmentCauses:
    department: str
    total: int = 0
    causes: list[RootCause] = field(default_factory=list)


@dataclass(frozen=True)
class CausesReport:
    days: int
    since: datetime
    until: datetime
    departments: list[DepartmentCauses]

    @property
    def total(self) -> int:
        return sum(d.total for d in self.departments)


OUTCOMES = tuple(Outcome)


def grouped(days: int, since: datetime, until: datetime, tallies: list[CauseTally]) -> CausesReport:
    """Departments and their causes, each sorted by count (most first), then by name."""
    by_department: dict[str, dict[str | None, RootCause]] = {}
    for tally in tallies:
        causes = by_department.setdefault(tally.department, {})
        cause = causes.setdefault(tally.root_cause, RootCause(tally.root_cause))
        cause.count += tally.count
        if tally.outcome is not None:
            cause.outcomes[tally.outcome] += tally.count
        cause.remedies[tally.remedy] += tally.count
    departments = [
        DepartmentCauses(
            name,
            sum(c.count for c in causes.values()),
            sorted(causes.values(), key=lambda c: (-c.count, c.name or "")),
        )
        for name, causes in by_department.items()
    ]
    departments.sort(key=lambda d: (-d.total, d.department))
    return CausesReport(days, since, until, departments)
