"""The sweep is set-based, on SQLite and PostgreSQL: a thousand due cases go out in one sweep, the
statements a sweep runs do not grow with the due cases, and a batch boundary inside a case still
sends the latest reminder per audience. Speed itself is the benchmark's (`closeloop bench`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, insert, inspect, select

from bot.app.deadline_sweep import DeadlineSweeper
from bot.domain.deadlines import SlaPlanner, decide
from bot.domain.vocabulary import DeadlineStatus, DeliveryKind, EventKind
from storage.db import Database
from storage.deadline_store import DeadlineStore
from storage.models import Case, CaseEvent, Deadline, Delivery, Feedback
from storage.repository import Repository
from storage.snapshots import snapshot
from tests.factories import feedback_and_triage

H = timedelta(hours=1)


class Swept:
    """Records what the sweeper reports, as `bot.metrics.Metrics.swept` would receive it."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, int]] = []

    def swept(self, seconds: float, due_rows: int) -> None:
        self.calls.append((seconds, due_rows))


def _columns(row: Any, *skip: str) -> dict[str, Any]:
    return {
        a.key: getattr(row, a.key) for a in inspect(row).mapper.column_attrs if a.key not in {"id", *skip}
    }


def due_cases(database: Database, policy, clock, count: int, *, tag: str = "r") -> list[int]:
    """`count` detractor cases opened now (claim due in 2 h): one through the repository, the
    rest copies of its rows written in three statements, since the intake one by one is slow."""
    customer = {"name": "Dana Scully", "segment": "smb"}
    data = feedback_and_triage(policy, id=f"{tag}-0", customer=customer)
    first = Repository(database, SlaPlanner(policy)).record_feedback(*data, clock()).case_id
    assert first is not None
    with database.transaction() as session:
        case = session.get_one(Case, first)
        feedback = session.get_one(Feedback, case.feedback_id)
        rows = list(session.scalars(select(Deadline).where(Deadline.case_id == first)))
        copies = [{**_columns(feedback, "external_id"), "external_id": f"{tag}-{n}"} for n in range(1, count)]
        if not copies:
            return [first]
        returning = insert(Feedback).returning(Feedback.id, sort_by_parameter_order=True)
        feedback_ids = list(session.scalars(returning, copies))
        returning = insert(Case).returning(Case.id, sort_by_parameter_order=True)
        case_ids = list(
            session.scalars(returning, [{**_columns(case), "feedback_id": f} for f in feedback_ids])
        )
        session.execute(insert(Deadline), [{**_columns(r), "case_id": c} for c in case_ids for r in rows])
    return [first, *case_ids]


def due_now(database: Database, now) -> int:
    with database.transaction() as session:
        query = select(func.count()).select_from(Deadline)
        return session.scalar(query.where(Deadline.status == DeadlineStatus.PENDING, Deadline.due_at <= now))


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every statement sent to the database meanwhile (an executemany counts once)."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def sweeper(database: Database, policy, now, fired: list[int], metrics: Swept | None = None, **options):
    return DeadlineSweeper(
        DeadlineStore(database, snapshot), policy, lambda: now, fired.append, metrics, **options
    )


def test_a_thousand_due_cases_go_out_in_one_sweep(database, policy, clock):
    cases = due_cases(database, policy, clock, 1000)
    now = clock() + 2 * H
    assert due_now(database, now) == 2000  # each: the claim nudge and the managers' escalation
    fired: list[int] = []
    metrics = Swept()
    assert sweeper(database, policy, now, fired, metrics).sweep() == 2000
    assert sorted(fired) == sorted(cases)
    assert due_now(database, now) == 0
    assert [due for _, due in metrics.calls] == [2000]  # one report per sweep, with its due rows
    with database.transaction() as session:
        versions = Counter(session.scalars(select(Case.version).where(Case.id.in_(cases))))
    assert versions == {2: 1000}  # each message re-rendered once: it now shows the case overdue


def test_each_delivery_belongs_to_its_own_event_in_order(database, policy, clock):
    """The bulk INSERTs pair events and deliveries by position: check each pair, and that an
    event's thread reply comes before its direct messages, as one at a time did."""
    due_cases(database, policy, clock, 30)
    assert sweeper(database, policy, clock() + 2 * H, []).sweep() == 60
    with database.transaction() as session:
        events = {e.id: e for e in session.scalars(select(CaseEvent).where(CaseEvent.actor == "closeloop"))}
        owed = list(session.scalars(select(Delivery).order_by(Delivery.id)))
    assert Counter(e.kind for e in events.values()) == {EventKind.CLAIM_NUDGE: 30, EventKind.ESCALATED: 30}
    for delivery in owed:
        owning = events[delivery.event_id]
        assert owning.case_id == delivery.case_id
        if delivery.kind == DeliveryKind.ESCALATION_DM:
            assert owning.kind == EventKind.ESCALATED and delivery.recipient in owning.details["recipients"]
    by_event = [(d.event_id, d.kind) for d in owed]
    for event_id in events:
        kinds = [kind for owner, kind in by_event if owner == event_id]
        assert kinds[0] == DeliveryKind.THREAD_REPLY, kinds
    assert len(owed) == 30 * 2 + 30  # two thread replies and one manager's DM per case


def test_the_statements_of_a_sweep_do_not_grow_with_the_due_cases(database, policy, clock):
    now = clock() + 2 * H
    counts = []
    for tag, count in (("ten", 10), ("hundred", 100)):
        due_cases(database, policy, clock, count, tag=tag)
        with statements(database.engine) as seen:
            assert sweeper(database, policy, now, []).sweep() == 2 * count
        counts.append(len(seen))
    assert counts[0] == counts[1], counts
    assert counts[0] <= 12, counts  # lock, load, lock rows, 1 UPDATE, 2 INSERTs, 1 UPDATE, the rest


def test_a_batch_ending_inside_a_case_still_sends_the_latest_per_audience(database, policy, clock):
    """After downtime a case has many rows due; a batch that stops after its first row still
    decides the case on all of them, so each audience hears once, not once per batch."""
    cases = due_cases(database, policy, clock, 3)
    now = clock() + 30 * H  # claim (2 h, +4 h) and first contact (1 d, +4 h) all missed
    store = DeadlineStore(database, snapshot)
    with database.transaction() as session:
        rows = list(session.scalars(select(Deadline).where(Deadline.case_id == cases[0])))
    due = [r for r in rows if r.due_at <= now]
    assert len(due) > 2
    metrics = Swept()
    fired: list[int] = []
    count = sweeper(database, policy, now, fired, metrics, batch_rows=1).sweep()
    assert due_now(database, now) == 0 and sorted(fired) == cases
    case = store.all_rows(cases[0])
    expected = decide(
        policy, Repository(database).get_case(cases[0]), [r for r in case if r.due_at <= now], now
    )
    assert count == 3 * len(expected.fire) == 3 * 3  # the nudge, the latest of each level
    assert {r.id for r in case if r.status == DeadlineStatus.SENT} == {f.deadline_id for f in expected.fire}
    assert [due for _, due in metrics.calls] == [3 * len(due)]


def test_a_case_the_domain_cannot_decide_stays_due_and_the_others_go_out(
    database, policy, clock, caplog, monkeypatch
):
    cases = due_cases(database, policy, clock, 5)
    now = clock() + 2 * H

    def fails_for_one(policy, case, rows, at):
        if case.id == cases[2]:
            raise ValueError("a row the domain cannot read")
        return decide(policy, case, rows, at)

    monkeypatch.setattr("bot.app.deadline_sweep.decide", fails_for_one)
    fired: list[int] = []
    assert sweeper(database, policy, now, fired).sweep() == 2 * 4
    assert sorted(fired) == sorted(set(cases) - {cases[2]})
    assert due_now(database, now) == 2
    assert f"case #{cases[2]} could not be decided" in caplog.text
    monkeypatch.setattr("bot.app.deadline_sweep.decide", decide)
    assert sweeper(database, policy, now, fired).sweep() == 2 and due_now(database, now) == 0


@pytest.mark.backends("postgresql")
def test_a_case_held_by_another_transaction_is_skipped_not_waited_for(database, policy, clock):
    cases = due_cases(database, policy, clock, 3)
    now = clock() + 2 * H
    fired: list[int] = []
    with database.transaction() as session:  # e.g. a click holding the case row
        session.scalar(select(Case).where(Case.id == cases[1]).with_for_update())
        assert sweeper(database, policy, now, fired).sweep() == 4
    assert sorted(fired) == [cases[0], cases[2]]
    assert sweeper(database, policy, now, fired).sweep() == 2 and due_now(database, now) == 0


def test_the_runtime_reports_each_sweep_to_its_metrics(stack, clock):
    """bot/wiring.py hands the runtime's Metrics to the sweeper: /metrics shows sweeps and rows."""
    from tests.support.steps import open_case

    open_case(stack, customer={"name": "Dana Scully", "segment": "smb"})
    clock.advance(hours=2)
    assert stack.sweep_deadlines() == 2
    assert stack.sweep_deadlines() == 0
    registry = stack.runtime.metrics.registry
    assert registry.get_sample_value("closeloop_deadline_sweep_seconds_count") == 2
    assert registry.get_sample_value("closeloop_deadline_sweep_due_rows_sum") == 2  # then none due
