"""What the App Home tab shows a person: their open cases, the unclaimed queue they may take from,
and their figures for the month. Pure: the policy and `now` come in as arguments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.policy import Policy
from bot.domain.records import CaseSnapshot


class QueueScope(StrEnum):
    """Whose unclaimed cases the viewer's queue lists."""

    DEPARTMENTS = "departments"  # the departments the viewer is a member or manager of
    EVERYONE = "everyone"  # in none, but anyone may claim: every department's queue
    NONE = "none"  # in none, and only departments' people may claim: no queue to show


@dataclass(frozen=True)
class Queue:
    scope: QueueScope
    departments: tuple[str, ...]


def queue_of(policy: Policy, user: str) -> Queue:
    """The departments whose unclaimed cases `user` sees on Home. Someone in no department sees
    every department's queue when anyone may claim (they may take any of them), and none when
    only a department's members and managers may (nothing there would be theirs to claim)."""
    own = tuple(d.name for d in policy.departments if user in d.members or user in d.managers)
    if own:
        return Queue(QueueScope.DEPARTMENTS, own)
    if policy.permissions.claim == "anyone":
        return Queue(QueueScope.EVERYONE, tuple(d.name for d in policy.departments))
    return Queue(QueueScope.NONE, ())


def month_start(now: datetime) -> datetime:
    """The first moment of `now`'s calendar month, in `now`'s time zone (UTC for the bot)."""
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class MonthFigures:
    """One person's month so far: loops they closed and the median time those took (from the
    response arriving to the close), kudos on those loops, customers they won back."""

    closed: int
    median_close_seconds: float | None
    kudos: int
    won_back: int


@dataclass(frozen=True)
class HomeContent:
    """Everything one Home view shows, read at one moment: each list is its first few cases and
    how many there are in all (a Home tab holds 100 blocks; counts are not capped)."""

    user: str
    now: datetime
    mine_total: int
    mine: list[CaseSnapshot]
    queue: Queue
    queue_total: int
    queued: list[CaseSnapshot]
    figures: MonthFigures

    @property
    def case_ids(self) -> tuple[int, ...]:
        """The cases this view shows: a change to any of them owes the viewer a refresh."""
        return tuple(case.id for case in (*self.mine, *self.queued))
