"""The weekly digest: which digests the policy asks for, what one carries, and where its send is.

The figures themselves (NPS, its margin, closure and SLA hit rates) are `/loop stats`'s
(`bot.domain.stats`); a digest only lays two weeks of them side by side and twelve in a chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.domain.digest_policy import EVERYONE, DigestPolicy, week_bounds, week_label
from bot.domain.leaderboard import MissedThankYou, Standing
from bot.domain.policy import Policy
from bot.domain.records import CaseSnapshot
from bot.domain.stats import LoopStats
from bot.domain.themes import ThemeCount

CHART_WEEKS = 12


@dataclass(frozen=True)
class DigestTarget:
    """One digest the policy asks for: everyone's (`department` None) or one department's."""

    key: str
    department: str | None
    channel: str
    title: str


def targets(policy: Policy) -> list[DigestTarget]:
    """Every digest of the policy; none without a `digest:` section."""
    spec = policy.digest
    if spec is None:
        return []
    found = [DigestTarget(EVERYONE, None, spec.channel, "everyone")] if spec.channel else []
    if spec.per_department:
        found += [
            DigestTarget(f"department:{d.name}", d.name, d.channel, d.display_name)
            for d in policy.departments
        ]
    return found


def target_for(policy: Policy, department: str | None) -> DigestTarget | None:
    """The digest of `department` (everyone's with None), if the policy has it."""
    key = EVERYONE if department is None else f"department:{department}"
    return next((t for t in targets(policy) if t.key == key), None)


@dataclass(frozen=True)
class Week:
    monday: date
    since: datetime
    until: datetime

    @property
    def label(self) -> str:
        return week_label(self.monday)

    @classmethod
    def of(cls, policy: DigestPolicy, monday: date) -> Week:
        since, until = week_bounds(policy, monday)
        return cls(monday, since, until)


@dataclass(frozen=True)
class WeekPoint:
    """One week of the chart: NPS with its 95 % margin (None without responses), closure rate."""

    label: str
    responses: int
    nps: float | None
    margin: float | None
    closure_rate: float | None

    @classmethod
    def of(cls, week: Week, stats: LoopStats) -> WeekPoint:
        return cls(week.label, stats.responses, stats.nps, stats.nps_margin, stats.closure_rate)


@dataclass(frozen=True)
class Digest:
    """Everything one digest says, read once; the lead, its thread and the chart render from it."""

    target: DigestTarget
    week: Week
    timezone: str
    this_week: LoopStats
    last_week: LoopStats
    history: list[WeekPoint]  # oldest first, ending with `week`
    themes: list[ThemeCount]  # among the week's detractors, most first
    thanks: list[Standing]
    overdue_total: int
    overdue: list[CaseSnapshot]
    missed_total: int
    missed: list[MissedThankYou]
    now: datetime

    @property
    def chart_filename(self) -> str:
        key = self.target.key.replace(":", "-")
        return f"closeloop-digest-{self.week.label}-{key}.png"
