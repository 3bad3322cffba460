"""`/loop leaderboard`: who closed loops, won customers back, and was thanked for it, over a
rolling period (the last 7, 30 or 90 days up to now, in UTC: no calendar month ends mid-answer)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Period(StrEnum):
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"

    @property
    def length(self) -> timedelta:
        return {Period.WEEK: timedelta(days=7), Period.MONTH: timedelta(days=30)}.get(
            self, timedelta(days=90)
        )


@dataclass(frozen=True)
class Standing:
    """One person's figures over the period. `median_close_seconds` is None with no loop closed."""

    user_id: str
    closed: int = 0
    won_back: int = 0  # detractors of theirs who later sent a promoter score (turnarounds)
    median_close_seconds: float | None = None
    kudos: int = 0
    recognitions: int = 0
    promoters: int = 0  # presses on promoters' notices (first of each action per response)


@dataclass(frozen=True)
class MissedThankYou:
    """A promoter's notice nobody pressed a button on within a week of it being posted."""

    channel: str
    survey: str
    score: int
    noticed_at: datetime


@dataclass(frozen=True)
class Leaderboard:
    period: Period
    since: datetime
    until: datetime
    standings: list[Standing]
    missed_total: int
    missed: list[MissedThankYou]


def ranked(standings: list[Standing]) -> list[Standing]:
    """Most loops closed first; then won back, kudos, recognitions, promoters; then the faster."""
    return sorted(
        standings,
        key=lambda s: (
            -s.closed,
            -s.won_back,
            -s.kudos,
            -s.recognitions,
            -s.promoters,
            s.median_close_seconds if s.median_close_seconds is not None else float("inf"),
            s.user_id,
        ),
    )
