"""Themes: what many detractors are about, from the survey tool's tags and the owner's picks.

A theme is counted by its key (case-folded, whitespace collapsed), so the tag `Export ` and the
policy's theme `export` are one theme; it is shown with the policy's spelling when the policy
lists it, else as its key. Counts are of responses (a response tagged and picked with one theme
counts once), among detractors, by when the response arrived.

The spike rule (`alerts.theme_spike` in the policy) is decided here from storage's counts: a
theme fires when its detractors within the window reach `count`, and, with `ratio`, reach that
many times its average per window over the four weeks before."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.domain.deadline_policy import Duration
from bot.domain.records import CaseSnapshot

THEME_MAX = 100  # characters of a stored theme key: tags are at most 50, policy themes 75
BASELINE = timedelta(weeks=4)  # what a ratio compares the window with
RATIO_FLOOR = 3  # with a ratio and no count: never an alert for fewer detractors than this
WITHIN_MIN, WITHIN_MAX = timedelta(hours=1), timedelta(days=7)


def _words(duration: timedelta) -> str:
    hours = duration.total_seconds() / 3600
    return f"{hours:g}h" if hours < 48 else f"{hours / 24:g}d"


def theme_key(name: str) -> str:
    """The form a theme is stored and counted by: 'CSV  Export ' and 'csv export' are one."""
    return " ".join(name.split()).casefold()[:THEME_MAX]


def theme_keys(names: Iterable[str]) -> list[str]:
    """Each theme once, in the order given; names that are only whitespace are dropped."""
    return list(dict.fromkeys(key for key in map(theme_key, names) if key))


def labels(policy_themes: Sequence[str]) -> dict[str, str]:
    """Key → the policy's spelling, so a tag matching a policy theme is shown as the policy writes it."""
    return {theme_key(name): name for name in policy_themes}


# ---- /loop themes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ThemeTally:
    """One theme's detractor responses in a period and in the period of the same length before."""

    theme: str  # the key
    current: int
    previous: int


@dataclass(frozen=True)
class ThemeCount:
    theme: str  # as shown: the policy's spelling, else the key (outside text: escape it)
    current: int
    previous: int

    @property
    def rise(self) -> int:
        return self.current - self.previous


@dataclass(frozen=True)
class ThemesReport:
    """Themes among detractors over [since, until) against [previous_since, since), periods of
    the same length; `department` None for all. `themes` is sorted by rise (most first), then by this
    period's count, then by name, so the answer is the same on every run."""

    since: datetime
    until: datetime
    department: str | None
    themes: list[ThemeCount]

    @property
    def days(self) -> int:
        """The period's length in whole days (at least 1)."""
        return max(round((self.until - self.since) / timedelta(days=1)), 1)

    @property
    def previous_since(self) -> datetime:
        return self.since - (self.until - self.since)

    def rising(self, limit: int | None = None) -> list[ThemeCount]:
        """Themes counted more often than in the previous period, fastest rise first."""
        rising = [t for t in self.themes if t.rise > 0]
        return rising if limit is None else rising[:limit]

    def top(self, limit: int | None = None) -> list[ThemeCount]:
        """This period's most frequent themes (a digest's 'top themes'), most first, then by name."""
        ranked = sorted((t for t in self.themes if t.current > 0), key=lambda t: (-t.current, t.theme))
        return ranked if limit is None else ranked[:limit]


def themes_report(
    since: datetime,
    until: datetime,
    department: str | None,
    tallies: Iterable[ThemeTally],
    names: Mapping[str, str],
) -> ThemesReport:
    counts = [ThemeCount(names.get(t.theme, t.theme), t.current, t.previous) for t in tallies]
    counts.sort(key=lambda t: (-t.rise, -t.current, t.theme))
    return ThemesReport(since, until, department, counts)


# ---- spike alerts ----------------------------------------------------------------------------


class ThemeSpike(BaseModel):
    """`alerts.theme_spike`: `count` detractors with one theme within `within`, or (`ratio`)
    that many times the theme's average per `within` over the 4 weeks before; with both, both."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    within: Duration = timedelta(hours=24)
    count: int | None = Field(default=None, ge=1, le=100_000)
    ratio: float | None = Field(default=None, gt=1, le=1000)

    @field_validator("within")
    @classmethod
    def _window(cls, value: timedelta) -> timedelta:
        if not WITHIN_MIN <= value <= WITHIN_MAX:
            raise ValueError(f"{_words(value)} is outside 1h to 7d — count over a window such as 24h")
        return value

    @model_validator(mode="after")
    def _checked(self) -> Self:
        if self.count is None and self.ratio is None:
            raise ValueError(
                "needs count or ratio — e.g. {count: 5, within: 24h} (5 detractors with one theme "
                "within a day) or {ratio: 3, within: 24h} (3× the theme's 4-week average)"
            )
        return self

    @property
    def floor(self) -> int:
        """The fewest detractors that can fire: `count`, or 3 with a ratio alone (1 against 0 is no spike)."""
        return self.count if self.count is not None else RATIO_FLOOR

    def average(self, baseline: int) -> float:
        """The theme's average detractors per window over the 4 weeks before the window."""
        return baseline * (self.within / BASELINE)

    def fires(self, count: int, baseline: int) -> bool:
        if count < self.floor:
            return False
        return self.ratio is None or count >= self.ratio * self.average(baseline)


class Alerts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    theme_spike: ThemeSpike | None = None


@dataclass(frozen=True)
class WindowCount:
    """One (department, theme)'s detractor responses within the window and in the 4 weeks before."""

    department: str
    theme: str  # the key
    count: int
    baseline: int


def spikes(rule: ThemeSpike, counts: Iterable[WindowCount]) -> list[WindowCount]:
    """The (department, theme) pairs over the threshold, most detractors first."""
    firing = [c for c in counts if rule.fires(c.count, c.baseline)]
    return sorted(firing, key=lambda c: (-c.count, c.department, c.theme))


@dataclass(frozen=True)
class ThemeAlert:
    """A fired alert as the outbox renders it: the theme (as shown), its count in the window,
    the 4-week average per window when the rule has a ratio, and the cases named (the newest,
    up to a cap; `total` says how many in all)."""

    department: str
    theme: str
    count: int
    within: timedelta
    fired_at: datetime
    average: float | None
    cases: list[CaseSnapshot]

    @property
    def unnamed(self) -> int:
        return max(self.count - len(self.cases), 0)
