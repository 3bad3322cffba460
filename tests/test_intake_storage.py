"""The intake's writes (storage/feedback_intake.py) on SQLite and PostgreSQL: a new response is a
few Core INSERTs, and they must leave exactly what the ORM path and `sync_deadlines` would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.domain.deadlines import SlaPlanner
from bot.domain.vocabulary import DeadlineStatus, EventKind
from storage.db import Database
from storage.deadline_store import DeadlineStore
from storage.models import Case, Deadline, Feedback
from storage.planning import replan
from storage.repository import Repository
from storage.snapshots import snapshot
from tests.factories import feedback_and_triage
from tests.support.race import race

H = timedelta(hours=1)


@pytest.fixture
def repo(database, policy) -> Repository:
    return Repository(database, SlaPlanner(policy))


def deadline_rows(database: Database, case_id: int) -> list[tuple]:
    with database.transaction() as session:
        rows = session.scalars(select(Deadline).where(Deadline.case_id == case_id).order_by(Deadline.id))
        return [(r.id, r.kind, r.step, r.level, r.recipient, r.due_at, r.status, r.held) for r in rows]


def test_a_new_case_has_the_rows_and_due_dates_a_replan_would_give_it(repo, database, policy, clock):
    """The first sight plans without reading: planning the same case again finds nothing to change."""
    case_id = repo.record_feedback(*feedback_and_triage(policy), clock()).case_id
    assert case_id is not None
    written, case = deadline_rows(database, case_id), repo.get_case(case_id)
    assert written and all(row[6] == DeadlineStatus.PENDING and not row[7] for row in written)
    assert case.claim_due_at is not None and case.close_due_at is not None
    with database.transaction() as session:
        stored = session.get_one(Case, case_id)
        replan(
            session, repo.planner, stored, session.get_one(Feedback, stored.feedback_id), clock(), due=True
        )
    assert deadline_rows(database, case_id) == written
    again = repo.get_case(case_id)
    assert (again.claim_due_at, again.contact_due_at, again.close_due_at) == (
        case.claim_due_at,
        case.contact_due_at,
        case.close_due_at,
    )


def test_a_promoter_who_turns_detractor_gets_a_case_with_its_deadlines(repo, database, policy, clock):
    first = repo.record_feedback(*feedback_and_triage(policy, score=10), clock())
    assert first.case_id is None
    later = clock() + H
    outcome = repo.record_feedback(*feedback_and_triage(policy, score=2), later)
    assert outcome.case_id is not None and not outcome.created and outcome.changed
    case = repo.get_case(outcome.case_id)
    assert (case.category, case.status, case.created_at) == ("detractor", "new", later)
    assert case.claim_due_at is not None and case.claim_due_at > later
    assert deadline_rows(database, outcome.case_id)
    assert [e.kind for e in repo.history(outcome.case_id)] == [EventKind.CREATED]


def test_simultaneous_sends_of_one_response_make_one_case_one_plan_and_merge_in_turn(
    database_url, policy, clock
):
    """Each contender has its own engine, like separate processes: one wins the INSERT (the unique
    key decides, no read before), the others find the row and merge into it one at a time."""
    contenders = 8
    databases = [Database(database_url) for _ in range(contenders)]
    try:
        results = race(
            contenders,
            lambda i: Repository(databases[i], SlaPlanner(policy)).record_feedback(
                *feedback_and_triage(policy, comment=f"attempt {i}: the export fails"), clock()
            ),
        )
    finally:
        for db in databases:
            db.dispose()
    assert sum(r.created for r in results) == 1
    assert len({r.feedback_id for r in results}) == 1 and len({r.case_id for r in results}) == 1
    check = Database(database_url)
    try:
        repo = Repository(check, SlaPlanner(policy))
        case_id = results[0].case_id
        assert case_id is not None
        kinds = [e.kind for e in repo.history(case_id)]
        assert kinds == [EventKind.CREATED] + [EventKind.FEEDBACK_UPDATED] * (contenders - 1)
        with check.transaction() as session:
            feedback = session.scalars(select(Feedback)).one()
            assert feedback.revision == contenders  # every other send changed the comment, in turn
        keys = [row[1:5] for row in deadline_rows(check, case_id) if row[6] == DeadlineStatus.PENDING]
        assert keys and len(keys) == len(set(keys))  # one plan, not one per contender
        assert DeadlineStore(check, snapshot).pending(case_id)
    finally:
        check.dispose()
