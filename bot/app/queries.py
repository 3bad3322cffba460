"""Read-only questions the listeners ask (the Home tab, `/loop` reports), answered from storage
as domain records, so a listener never needs to know where they are kept."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.causes import CausesReport, grouped
from bot.domain.policy import Policy
from bot.domain.records import CaseSnapshot
from bot.domain.stats import LoopStats, loop_stats
from bot.domain.themes import ThemesReport, labels, themes_report
from storage.causes import CausesStore
from storage.deadline_store import DeadlineStore
from storage.repository import Repository
from storage.stats import StatsStore
from storage.themes import ThemeStore


@dataclass(frozen=True)
class CaseList:
    """The first cases of a list, and how many there are in all: a list in Slack is capped, its
    count is not."""

    total: int
    cases: list[CaseSnapshot]


@dataclass(frozen=True)
class OverdueCases:
    """`/loop overdue`: cases past a deadline, and those due within `sla.at_risk_within`."""

    now: datetime
    overdue: CaseList
    at_risk: CaseList


class CaseQueries:
    def __init__(
        self,
        repository: Repository,
        deadlines: DeadlineStore,
        policy: Policy,
        clock: Callable[[], datetime],
    ) -> None:
        self.repository = repository
        self.deadlines = deadlines
        self.policy = policy
        self.clock = clock

    def case(self, case_id: int) -> CaseSnapshot | None:
        """One case as it is now (None if there is no such case), e.g. to show its whole comment."""
        return self.repository.find_case(case_id)

    def open_cases_of(self, user: str, limit: int) -> CaseList:
        """The user's open cases, oldest first."""
        return CaseList(*self.repository.open_cases_of(user, limit=limit))

    def overdue(self, department: str | None) -> OverdueCases:
        """With no deadlines in the policy nothing can be late: both lists are empty."""
        now = self.clock()
        window_end = now + (self.policy.sla.at_risk_within if self.policy.sla else timedelta(0))
        overdue = self.deadlines.open_cases_due_between(None, now, department=department)
        at_risk = self.deadlines.open_cases_due_between(now, window_end, department=department)
        return OverdueCases(now, CaseList(*overdue), CaseList(*at_risk))

    def causes(self, days: int) -> CausesReport:
        """`/loop causes`: the last `days` days up to now, from one grouped query over the closes."""
        until = self.clock()
        since = until - timedelta(days=days)
        return grouped(days, since, until, CausesStore(self.repository.database).tallies(since, until))

    def stats(self, department: str | None, since: datetime, until: datetime) -> LoopStats:
        """`/loop stats` (and the weekly digest's headline): the figures of [since, until), with
        those of the period of the same length just before it as `previous`."""
        before = since - (until - since)
        counts = StatsStore(self.repository.database).figures(department, before, since, until)
        previous = loop_stats(before, since, department, counts.previous)
        causes = counts.root_causes
        return loop_stats(
            since,
            until,
            department,
            counts.current,
            root_causes=causes,
            loops_closed=sum(n for _, n in causes),
            previous=previous,
        )

    def themes(self, since: datetime, until: datetime, department: str | None = None) -> ThemesReport:
        """Themes among detractors over [since, until) against the period of the same length just
        before it, for one department or all (`/loop themes`, a digest's week). One grouped
        query over the theme rows' index; theme names are outside text: escape them."""
        tallies = ThemeStore(self.repository.database).tallies(since, until, department)
        return themes_report(since, until, department, tallies, labels(self.policy.themes))
