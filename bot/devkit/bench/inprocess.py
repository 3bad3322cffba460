"""Measurements that need no Slack: the deadline sweep and the `/loop overdue`,
`/loop leaderboard` and `/loop causes` queries, built from the same pieces bot/wiring.py builds
them from, on a clock the bench sets."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import func, select

from bot.app.deadline_sweep import DeadlineSweeper
from bot.app.leaderboard import LeaderboardQuery
from bot.app.queries import CaseQueries
from bot.devkit.bench.prefill import prefill
from bot.devkit.bench.report import Figure, Report
from bot.domain.deadlines import SlaPlanner
from bot.domain.leaderboard import Period
from bot.domain.policy import Policy
from bot.domain.shipped import audience
from bot.domain.vocabulary import DeadlineStatus
from storage.db import Database
from storage.deadline_store import DeadlineStore
from storage.leaderboard import LeaderboardStore
from storage.models import Deadline
from storage.repository import Repository
from storage.shipped import ShippedStore
from storage.snapshots import snapshot

T = TypeVar("T")


def _due_rows(database: Database, now: datetime) -> int:
    with database.transaction() as session:
        query = select(func.count()).where(Deadline.status == DeadlineStatus.PENDING, Deadline.due_at <= now)
        return session.scalar(query.select_from(Deadline)) or 0


def sweep(database: Database, policy: Policy, report: Report, *, open_cases: int, due: int) -> None:
    """One sweep over `open_cases` open cases of which `due` have their claim step due (two rows
    each: the nudge and the escalation). The goal: all of them in one sweep, within 250 ms."""
    now = datetime.now(UTC).replace(microsecond=0)
    filled = prefill(database, cases=open_cases, open_cases=open_cases, due=due, now=now)
    fired_cases: list[int] = []
    sweeper = DeadlineSweeper(DeadlineStore(database, snapshot), policy, lambda: now, fired_cases.append)
    before = _due_rows(database, now)
    started = time.perf_counter()
    sweeper.sweep()
    seconds = time.perf_counter() - started
    handled = before - _due_rows(database, now)
    cases = len(set(fired_cases))
    name = f"sweep, {open_cases:,} open / {due:,} due"
    report.add(
        Figure(
            f"{name}: one sweep",
            seconds * 1000,
            "ms",
            "≤ 250 ms",
            seconds <= 0.25,
            note=f"pre-filled in {filled.seconds:.1f} s",
        ),
        Figure(
            f"{name}: due cases handled",
            cases,
            "",
            f"all {due:,}",
            cases == due,
            note=f"{handled:,} of {before:,} due rows, {1000 * seconds / max(cases, 1):.2f} ms per case",
        ),
    )


def median_of_five(query: Callable[[], T]) -> tuple[float, T]:
    """The median time of five runs in ms (the first warms the cache), and the last answer."""
    times = []
    for _ in range(5):
        started = time.perf_counter()
        answer = query()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times), answer


def case_queries(database: Database, policy: Policy) -> CaseQueries:
    """The queries `/loop` answers from, built as bot.wiring builds them, on the real clock."""
    return CaseQueries(
        Repository(database, SlaPlanner(policy)),
        DeadlineStore(database, snapshot),
        policy,
        lambda: datetime.now(UTC),
    )


def overdue_query(database: Database, policy: Policy, report: Report, label: str) -> None:
    """`/loop overdue` for the whole workspace: the median of five (the first warms the cache)."""
    queries = case_queries(database, policy)
    milliseconds, result = median_of_five(lambda: queries.overdue(None))
    found = f"{result.overdue.total:,} overdue, {result.at_risk.total:,} at risk" if result else ""
    report.add(Figure(f"/loop overdue query, {label} cases", milliseconds, "ms", note=found))


def leaderboard_query(database: Database, report: Report, label: str) -> None:
    """`/loop leaderboard month`: the median of five (the first warms the cache). The pre-fill's
    closed cases are 30 s apart, so a month holds ~86k of them, each closed by one of its people."""
    query = LeaderboardQuery(LeaderboardStore(database), lambda: datetime.now(UTC))
    milliseconds, board = median_of_five(lambda: query.board(Period.MONTH))
    found = ""
    if board is not None:
        found = f"{sum(s.closed for s in board.standings):,} loops of {len(board.standings):,} people"
    name = f"/loop leaderboard month query, {label} cases"
    report.add(Figure(name, milliseconds, "ms", note=found))


def themes_query(database: Database, policy: Policy, report: Report, label: str) -> None:
    """`/loop themes month`: the month's detractors' themes against the month before, one
    grouped query over ix_theme_tags_category_received_at (the median of five)."""
    queries = case_queries(database, policy)
    until = datetime.now(UTC)
    milliseconds, result = median_of_five(lambda: queries.themes(until - timedelta(days=30), until))
    found = f"{sum(t.current for t in result.themes):,} themed detractors" if result else ""
    report.add(Figure(f"/loop themes month query, {label} cases", milliseconds, "ms", note=found))


def shipped_audience(database: Database, policy: Policy, report: Report, label: str) -> None:
    """`/loop shipped <theme>`'s audience, read as the modal opens and again at confirming: a
    theme's detractor and passive responses (ix_theme_tags_theme_category), each customer once.
    The pre-fill tags each response with its department, so one theme holds a department's share;
    its responses have no e-mail address, so every customer is counted as skipped."""
    store = ShippedStore(database)
    theme = policy.departments[0].name

    def read() -> tuple[int, int, int]:
        found, told = store.candidates(theme)
        who = audience(policy.outer_loop, found, told)
        return len(found), len(who.recipients), sum(who.skipped_by_reason().values())

    milliseconds, (responses, reached, skipped) = median_of_five(read)
    note = f"{responses:,} responses, {reached + skipped:,} customers ({skipped:,} skipped: no address)"
    report.add(Figure(f"/loop shipped audience, {label} cases", milliseconds, "ms", note=note))


def causes_query(database: Database, policy: Policy, report: Report, label: str) -> None:
    """`/loop causes month`: the median of five (the first warms the cache), over the same ~86k
    closes in a month as the leaderboard's, grouped in one query."""
    queries = case_queries(database, policy)
    milliseconds, result = median_of_five(lambda: queries.causes(30))
    found = f"{result.total:,} loops in {len(result.departments):,} departments" if result else ""
    report.add(Figure(f"/loop causes month query, {label} cases", milliseconds, "ms", note=found))
