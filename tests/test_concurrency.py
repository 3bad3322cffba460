"""Concurrency claims, proven with real threads against PostgreSQL (and SQLite, which must hold
them too because it is the default)."""

from __future__ import annotations

from storage.db import Database
from storage.repository import Repository
from tests.factories import feedback_and_triage
from tests.support.race import race

CONTENDERS = 12


def test_many_simultaneous_claims_make_exactly_one_owner(database_url, policy, clock):
    setup = Database(database_url)
    case_id = Repository(setup).record_feedback(*feedback_and_triage(policy), clock()).case_id
    setup.dispose()
    # Each contender has its own engine, like separate bot processes would.
    databases = [Database(database_url) for _ in range(CONTENDERS)]
    try:
        results = race(CONTENDERS, lambda i: Repository(databases[i]).claim(case_id, f"U0AGENT{i}", clock()))
    finally:
        for db in databases:
            db.dispose()
    winners = [r for r in results if r.applied]
    assert len(winners) == 1
    owner = winners[0].case.owner_id
    assert all(r.case.owner_id == owner for r in results)
    check = Database(database_url)
    history = Repository(check).history(case_id)
    check.dispose()
    assert [e.kind for e in history].count("claimed") == 1


def test_the_same_response_arriving_twice_at_once_makes_one_case(database_url, policy, clock):
    databases = [Database(database_url) for _ in range(6)]
    try:
        results = race(
            6,
            lambda i: Repository(databases[i]).record_feedback(
                *feedback_and_triage(policy, comment=f"attempt {i}"), clock()
            ),
        )
    finally:
        for db in databases:
            db.dispose()
    assert len({r.feedback_id for r in results}) == 1
    assert len({r.case_id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    check = Database(database_url)
    counts = Repository(check).counts()
    check.dispose()
    assert counts["feedback"] == 1 and counts["cases"] == 1
