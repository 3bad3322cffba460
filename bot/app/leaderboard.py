"""`/loop leaderboard`: the period's standings and missed thank-yous, read from storage with a
few grouped queries, however large the history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.domain.leaderboard import Leaderboard, Period, ranked
from bot.domain.promoters import THANK_YOU_WITHIN
from storage.leaderboard import LeaderboardStore

MISSED_LISTED = 10


class LeaderboardQuery:
    def __init__(self, store: LeaderboardStore, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    def board(self, period: Period) -> Leaderboard:
        """The last `period.length` up to now. A missed thank-you is a notice whose week ran out
        within the period with no press in that week."""
        until = self.clock()
        since = until - period.length
        standings = ranked(self.store.standings(since, until))
        total, missed = self.store.missed_thank_yous(
            since - THANK_YOU_WITHIN, until - THANK_YOU_WITHIN, THANK_YOU_WITHIN, MISSED_LISTED
        )
        return Leaderboard(period, since, until, standings, total, missed)
