"""`/loop stats` on the pre-filled history: the whole workspace over a month and over a year, each
against the period before, the median of five (the first warms the cache), as the answer builds
it (CaseQueries.stats). The goal is 300 ms.

The pre-fill writes its million rows in a few statements and then only ANALYZEs, so PostgreSQL's
visibility map is still empty and no index-only scan can skip the heap; a live database has been
through autovacuum (its insert threshold fires after such a load). The tables are vacuumed first,
as autovacuum would have, so the figure is that of a database in service.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from bot.devkit.bench.inprocess import case_queries, median_of_five
from bot.devkit.bench.report import Figure, Report
from bot.domain.policy import Policy
from storage.db import Database

GOAL_MS = 300
PERIODS = (("month", 30), ("year", 365))


def vacuum(database: Database) -> float:
    """VACUUM ANALYZE the tables the answer reads; its seconds (0 on SQLite, which needs none)."""
    if not database.is_postgres:
        return 0.0
    started = time.monotonic()
    with database.engine.connect() as connection:
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("feedback", "cases", "turnarounds"):
            autocommit.execute(text(f"VACUUM ANALYZE {table}"))
    return time.monotonic() - started


def stats_query(database: Database, policy: Policy, report: Report, label: str) -> None:
    vacuumed = vacuum(database)
    queries = case_queries(database, policy)
    for word, days in PERIODS:
        until = datetime.now(UTC)
        since = until - timedelta(days=days)
        milliseconds, stats = median_of_five(lambda s=since, u=until: queries.stats(None, s, u))
        nps = "no NPS" if stats.nps is None else f"NPS {stats.nps:+.1f} ±{stats.nps_margin or 0:.2f}"
        found = (
            f"{stats.responses:,} responses ({stats.previous.responses if stats.previous else 0:,} before), "
            f"{nps}, {stats.cases_opened:,} cases, {stats.times['close'].count:,} close times"
        )
        if vacuumed:
            found += f"; after VACUUM ANALYZE ({vacuumed:.1f} s)"
        report.add(
            Figure(
                f"/loop stats {word} query, {label} cases",
                milliseconds,
                "ms",
                f"≤ {GOAL_MS} ms",
                milliseconds <= GOAL_MS,
                note=found,
            )
        )
