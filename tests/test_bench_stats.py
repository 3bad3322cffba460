"""The bench's `/loop stats` figure: a month and a year over the pre-filled history, each with its
goal and what the answer found, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.devkit.bench.prefill import prefill
from bot.devkit.bench.report import Report
from bot.devkit.bench.stats_query import stats_query
from storage.models import Case, Feedback


def test_the_bench_reports_stats_for_a_month_and_a_year(database, policy) -> None:
    now = datetime.now(UTC)
    prefill(database, cases=500, open_cases=50, due=0, now=now)
    report = Report()
    stats_query(database, policy, report, "500")
    month, year = report.figures
    assert (month.measure, year.measure) == (
        "/loop stats month query, 500 cases",
        "/loop stats year query, 500 cases",
    )
    assert month.goal == "≤ 300 ms" and month.value > 0 and month.met == (month.value <= 300)
    with database.transaction() as session:
        responses = session.scalar(
            select(func.count()).where(Feedback.received_at >= now - timedelta(days=30))
        )
        closed = session.scalar(
            select(func.count()).where(
                Case.created_at >= now - timedelta(days=30), Case.close_seconds.is_not(None)
            )
        )
    assert responses and month.note.startswith(f"{responses:,} responses (")
    assert f"{closed:,} close times" in month.note
    assert year.note.startswith("500 responses (0 before)")  # 500 cases 30 s apart: all within a year
    # every pre-filled closed case carries its step times, as the bot writes them
    assert "NPS -90.0" in year.note  # 9 in 10 are detractors, the rest passives
