"""`closeloop bench`: its pre-filled rows are what the bot reads as valid, it refuses a used
database and leaves the one it was given empty, and its posting floor is Slack's."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select

from bot.app.deadline_sweep import DeadlineSweeper
from bot.app.queries import CaseQueries
from bot.devkit.bench.database import REFUSAL, BenchDatabase, DatabaseNotEmpty
from bot.devkit.bench.policy import CHANNELS, bench_policy
from bot.devkit.bench.prefill import prefill
from bot.devkit.bench.slack_side import ideal_post_times
from bot.domain.deadlines import SlaPlanner, plan
from bot.domain.vocabulary import CaseStatus, DeadlineStatus
from storage.db import Database
from storage.deadline_store import DeadlineStore
from storage.models import Case, CaseEvent, Deadline, Feedback
from storage.outbox_store import OutboxStore
from storage.repository import Repository
from storage.snapshots import snapshot
from tests.support.databases import empty_tables

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_prefilled_rows_are_what_the_bot_reads_as_valid(database: Database, tmp_path: Path) -> None:
    policy = bench_policy(tmp_path)
    planner = SlaPlanner(policy)
    filled = prefill(database, cases=2000, open_cases=200, due=50, now=NOW)
    assert (len(filled.closed), len(filled.open), len(filled.due)) == (1800, 150, 50)
    repository = Repository(database, planner)
    deadlines = DeadlineStore(database, snapshot)

    for case_id in (filled.closed[0], filled.closed[-1], filled.open[0], filled.due[0], filled.due[-1]):
        case = repository.get_case(case_id)
        assert case.slack_channel == CHANNELS[case.department]
        assert case.slack_ts is not None and case.message_version == case.version
        assert case.created_at < NOW
        # the due dates are the ones the bot computes for the case, and its live deadline rows are
        # exactly its plan (a row the plan does not name would be cancelled by a sweep, not sent)
        dates = planner.due_dates(case)
        assert (case.claim_due_at, case.contact_due_at, case.close_due_at) == (
            dates.claim,
            dates.first_contact,
            dates.close,
        )
        rows = deadlines.all_rows(case_id)
        live = {r.key for r in rows if r.status in (DeadlineStatus.PENDING, DeadlineStatus.SENT)}
        assert live == {spec.key for spec in plan(policy, case)}
        assert len(repository.history(case_id)) == 1
    closed = repository.get_case(filled.closed[0])
    assert closed.status == CaseStatus.CLOSED and closed.owner_id and closed.closed_at
    assert closed.closed_at < NOW
    assert repository.get_case(filled.due[0]).status == CaseStatus.NEW
    with database.transaction() as session:
        for model in (Feedback, Case, CaseEvent):
            assert session.scalar(select(func.count()).select_from(model)) == 2000
        assert session.scalar(select(func.count()).select_from(Deadline)) == 8000

    assert OutboxStore(database).cases_owed(NOW) == []
    overdue = CaseQueries(repository, deadlines, policy, lambda: NOW).overdue(None)
    assert overdue.overdue.total == 200 and overdue.at_risk.total == 0
    assert overdue.overdue.cases[0].id == filled.open[0]  # oldest first

    fired_cases: list[int] = []
    sweeper = DeadlineSweeper(deadlines, policy, lambda: NOW, fired_cases.append)
    assert sweeper.sweep() == 2 * 50  # the claim nudge and the claim escalation of each due case
    assert sorted(fired_cases) == list(filled.due)
    assert sweeper.sweep() == 0
    # a second fill continues the ids, and the bot's own inserts continue after it
    more = prefill(database, cases=10, open_cases=0, due=0, now=NOW)
    assert more.closed == range(2001, 2011)
    assert repository.get_case(2010).status == CaseStatus.CLOSED


def test_bench_refuses_a_used_database_and_leaves_it_empty(database: Database, database_url: str) -> None:
    prefill(database, cases=5, open_cases=1, due=0, now=NOW)
    with pytest.raises(DatabaseNotEmpty, match=re.escape(REFUSAL)):
        BenchDatabase(database_url).prepare()

    empty_tables(database_url)
    bench = BenchDatabase(database_url)
    prefill(bench.prepare(), cases=20, open_cases=5, due=1, now=NOW)
    bench.finish()  # the schema was there before: it stays, empty
    assert BenchDatabase(database_url).problem() is None
    assert "cases" in inspect(database.engine).get_table_names()


def test_a_fresh_sqlite_file_gets_its_schema_dropped_at_the_end(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    bench = BenchDatabase(url)
    prefill(bench.prepare(), cases=10, open_cases=2, due=1, now=NOW)
    bench.finish()
    probe = Database(url)
    try:
        assert inspect(probe.engine).get_table_names() == []
    finally:
        probe.dispose()


def test_the_posting_floor_is_a_burst_of_five_then_one_a_second() -> None:
    start = 1000.0
    assert ideal_post_times([start] * 8, rate=1.0, burst=5, start=start) == [
        start,
        start,
        start,
        start,
        start,
        start + 1,
        start + 2,
        start + 3,
    ]
    # posts that arrive slower than the pace go out as they come; the bucket refills meanwhile
    assert ideal_post_times([start, start + 10, start + 10.5], rate=1.0, burst=1, start=start) == [
        start,
        start + 10,
        start + 11,
    ]
