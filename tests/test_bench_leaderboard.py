"""The bench's `/loop leaderboard` figure reads what the pre-fill writes: its closed cases are
counted per closer, and the leaderboard's sum matches a plain count of the period's closes."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.app.leaderboard import LeaderboardQuery
from bot.devkit.bench import inprocess
from bot.devkit.bench.prefill import prefill
from bot.devkit.bench.report import Report
from bot.domain.leaderboard import Period
from storage.db import Database
from storage.leaderboard import LeaderboardStore
from storage.models import Case

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_the_leaderboard_counts_the_prefilled_closes_of_its_period(database: Database) -> None:
    prefill(database, cases=3000, open_cases=100, due=0, now=NOW)
    # The closes span NOW - 2 d to NOW - 1 d: a week up to this moment starts halfway through them.
    later = NOW + timedelta(days=5, hours=12)
    board = LeaderboardQuery(LeaderboardStore(database), lambda: later).board(Period.WEEK)
    since = later - timedelta(days=7)
    durations: dict[str, list[float]] = {}
    with database.transaction() as session:
        rows = session.execute(
            select(Case.closed_by, Case.created_at, Case.closed_at).where(
                Case.closed_at >= since, Case.closed_at <= later
            )
        )
        for closer, created, closed in rows:
            durations.setdefault(closer, []).append((closed - created).total_seconds())
    assert 0 < sum(map(len, durations.values())) < 2900  # the week holds part of the history
    got = {s.user_id: (s.closed, s.median_close_seconds) for s in board.standings}
    assert got == {user: (len(d), statistics.median(d)) for user, d in durations.items()}


def test_the_bench_reports_the_leaderboard_query_time(database: Database) -> None:
    prefill(database, cases=500, open_cases=50, due=0, now=datetime.now(UTC))
    report = Report()
    inprocess.leaderboard_query(database, report, "500")
    (figure,) = [f for f in report.figures if "leaderboard" in f.measure]
    assert figure.measure == "/loop leaderboard month query, 500 cases" and figure.value > 0
    assert figure.note.endswith("people") and not figure.note.startswith("0 loops")
