"""The counts behind `/loop causes`: one grouped query over the loops closed in a period.

It reads the period by `closed_at` through `ix_cases_closed_at` (closed_at, closed_by, created_at,
migration 0009), so its cost follows the period's closes, not the history; only one row per
(department, root cause, outcome, remedy) leaves the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from bot.domain.causes import CauseTally
from storage.db import Database
from storage.models import Case


class CausesStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def tallies(self, since: datetime, until: datetime) -> list[CauseTally]:
        """Loops closed by a person in [since, until]; a case that closed itself (its customer's
        new score) has no closer and no root cause, so it is left out, as the leaderboard does."""
        query = (
            select(Case.department, Case.root_cause, Case.outcome, Case.remedy, func.count())
            .where(Case.closed_at >= since, Case.closed_at <= until, Case.closed_by.is_not(None))
            .group_by(Case.department, Case.root_cause, Case.outcome, Case.remedy)
        )
        with self.database.transaction() as session:
            return [CauseTally(*row[:4], int(row[4])) for row in session.execute(query)]
