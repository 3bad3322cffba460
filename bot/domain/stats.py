"""`/loop stats`: a period's loop health from storage's counts, and the same figures for the
period of the same length before it.

Definitions (the README's "/loop stats" section says the same to admins):
- a period is [since, until), half-open, so two consecutive periods never count a row twice;
- responses are counted by when they were received; NPS, CSAT and CES only over their own survey;
- the cases of a period are those opened in it, as they stood at the period's end: the closure
  rate is the share of them closed by then, the SLA figures and the times to claim, first contact
  and close are theirs (a time over the cases that had done the step by then). A time runs from
  the case's opening, in business time where its department has business hours (stored on the
  case when the step happens), wall-clock time otherwise. Cases by status are as they are now;
- root causes are those of the loops closed by a person in the period.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.causes import period_days
from bot.domain.scoring import SCALES
from bot.domain.vocabulary import Step, Survey

STEPS: tuple[str, ...] = tuple(Step)  # claim, first_contact, close
Z_95 = 1.96


@dataclass(frozen=True)
class ResponseCounts:
    """Storage's sums over one period's responses (scores are summed, averages come later)."""

    responses: int = 0
    nps_responses: int = 0
    promoters: int = 0
    detractors: int = 0
    csat_responses: int = 0
    csat_satisfied: int = 0
    csat_score_sum: int = 0
    ces_responses: int = 0
    ces_score_sum: int = 0


@dataclass(frozen=True)
class StepSla:
    """Of the period's cases with a deadline for the step: met (done at or before it), missed
    (done late, or not done and the deadline has passed); those not yet due are in neither."""

    met: int = 0
    missed: int = 0

    @property
    def hit_rate(self) -> float | None:
        counted = self.met + self.missed
        return self.met / counted if counted else None


@dataclass(frozen=True)
class CaseCounts:
    """Storage's counts over the cases opened in one period."""

    opened: int = 0
    closed: int = 0  # of those opened, closed by the period's end
    by_status: dict[str, int] = field(default_factory=dict)
    sla: dict[str, StepSla] = field(default_factory=dict)


@dataclass(frozen=True)
class StepTimes:
    """How long a step took, in seconds (business time where the department has hours), over
    the period's cases that had done it; percentiles interpolate as PostgreSQL's percentile_cont."""

    count: int = 0
    median: float | None = None
    p90: float | None = None


@dataclass(frozen=True)
class PeriodCounts:
    """Everything storage counts for one period."""

    responses: ResponseCounts = field(default_factory=ResponseCounts)
    cases: CaseCounts = field(default_factory=CaseCounts)
    times: dict[str, StepTimes] = field(default_factory=dict)
    won_back: int = 0


@dataclass(frozen=True)
class LoopStats:
    """One period's figures; `previous` holds the period of the same length just before it (whose
    own `previous` is None). Shares are 0–1; NPS and its margin are points on −100…100."""

    since: datetime
    until: datetime
    department: str | None
    responses: int
    nps: float | None
    nps_margin: float | None
    closure_rate: float | None
    cases_by_status: dict[str, int]
    sla_hit_rate: dict[str, float | None]
    nps_responses: int = 0
    promoters: int = 0
    detractors: int = 0
    csat_responses: int = 0
    csat_satisfied: float | None = None
    csat_average: float | None = None
    ces_responses: int = 0
    ces_average: float | None = None
    cases_opened: int = 0
    cases_closed: int = 0
    sla: dict[str, StepSla] = field(default_factory=dict)
    times: dict[str, StepTimes] = field(default_factory=dict)
    root_causes: list[tuple[str | None, int]] = field(default_factory=list)  # most first, of closes
    loops_closed: int = 0  # closed by a person in the period (the root causes' total)
    won_back: int = 0
    previous: LoopStats | None = None


def nps_with_margin(promoters: int, detractors: int, n: int) -> tuple[float | None, float | None]:
    """NPS and its 95% margin of error, in points: with shares p and d, var(NPS/100) is
    (p + d − (p − d)²) / n, and the margin is 1.96·√var·100. (None, None) with no responses."""
    if n <= 0:
        return None, None
    p, d = promoters / n, detractors / n
    variance = max(0.0, p + d - (p - d) ** 2) / n
    return 100 * (p - d), Z_95 * math.sqrt(variance) * 100


def percentile_cont(ordered: Sequence[float], share: float) -> float | None:
    """PostgreSQL's percentile_cont over already sorted values: linear interpolation at position
    (n − 1)·share. SQLite has no such function; storage reads the two values around it."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * share
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def interpolate(values: Sequence[float], position: float) -> float:
    """The value at fractional `position` from the one or two values at floor(position) onward."""
    if len(values) == 1:
        return values[0]
    return values[0] + (values[1] - values[0]) * (position - math.floor(position))


def response_counts(rows: Iterable[tuple[str, int, int]]) -> ResponseCounts:
    """Sums from (survey, score, count) rows: promoters and detractors on the NPS scale, CSAT's
    satisfied (4–5 on 1–5: above its neutral), by the survey scales of bot.domain.scoring."""
    sums = dict.fromkeys(
        ("responses", "nps", "promoters", "detractors", "csat", "satisfied", "csat_sum", "ces", "ces_sum"), 0
    )
    nps, csat = SCALES[Survey.NPS], SCALES[Survey.CSAT]
    for survey, score, n in rows:
        sums["responses"] += n
        if survey == Survey.NPS:
            sums["nps"] += n
            sums["promoters"] += n if score > nps.passive_max else 0
            sums["detractors"] += n if score <= nps.detractor_max else 0
        elif survey == Survey.CSAT:
            sums["csat"] += n
            sums["satisfied"] += n if score > csat.passive_max else 0
            sums["csat_sum"] += n * score
        elif survey == Survey.CES:
            sums["ces"] += n
            sums["ces_sum"] += n * score
    return ResponseCounts(*sums.values())


def _average(total: int, n: int) -> float | None:
    return total / n if n else None


def loop_stats(
    since: datetime,
    until: datetime,
    department: str | None,
    counts: PeriodCounts,
    *,
    root_causes: list[tuple[str | None, int]] | None = None,
    loops_closed: int = 0,
    previous: LoopStats | None = None,
) -> LoopStats:
    """The figures of one period from its counts."""
    r, c = counts.responses, counts.cases
    nps, margin = nps_with_margin(r.promoters, r.detractors, r.nps_responses)
    sla = {step: c.sla.get(step, StepSla()) for step in STEPS}
    causes = root_causes or []
    return LoopStats(
        since=since,
        until=until,
        department=department,
        responses=r.responses,
        nps=nps,
        nps_margin=margin,
        closure_rate=c.closed / c.opened if c.opened else None,
        cases_by_status=dict(c.by_status),
        sla_hit_rate={step: s.hit_rate for step, s in sla.items()},
        nps_responses=r.nps_responses,
        promoters=r.promoters,
        detractors=r.detractors,
        csat_responses=r.csat_responses,
        csat_satisfied=_average(r.csat_satisfied, r.csat_responses),
        csat_average=_average(r.csat_score_sum, r.csat_responses),
        ces_responses=r.ces_responses,
        ces_average=_average(r.ces_score_sum, r.ces_responses),
        cases_opened=c.opened,
        cases_closed=c.closed,
        sla=sla,
        times={step: counts.times.get(step, StepTimes()) for step in STEPS},
        root_causes=causes,
        loops_closed=loops_closed,
        won_back=counts.won_back,
        previous=previous,
    )


@dataclass(frozen=True)
class StatsRequest:
    """`/loop stats [department] [period]`, the words in either order: what was asked, and the
    words that are neither a department nor a period (to be answered, not guessed)."""

    department: str | None
    days: int
    unknown: tuple[str, ...] = ()
    repeated: bool = False  # two departments or two periods


def stats_request(
    words: Sequence[str], departments: Sequence[str], *, default_days: int = 30
) -> StatsRequest:
    """Department names are matched case-insensitively; periods as `/loop causes` reads them."""
    by_name = {name.lower(): name for name in departments}
    department: str | None = None
    days: int | None = None
    unknown: list[str] = []
    repeated = False
    for word in words:
        found_days = period_days(word)
        if found_days is not None:
            repeated = repeated or days is not None
            days = found_days
        elif word.lower() in by_name:
            repeated = repeated or department is not None
            department = by_name[word.lower()]
        else:
            unknown.append(word)
    return StatsRequest(department, days if days is not None else default_days, tuple(unknown), repeated)
