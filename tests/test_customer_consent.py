"""The customer's word on being written to is theirs, not one response's (storage/consent.py):
through the intake (first sight and re-send) and the import, on SQLite and PostgreSQL, as the
follow-up's check (`contact_refusal` on the case) and the /loop shipped audience read it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.domain.deadlines import SlaPlanner
from bot.domain.outer_loop import contact_refusal
from bot.domain.shipped import audience
from storage.bulk_import import BulkImport, ImportItem
from storage.db import Database
from storage.models import Feedback
from storage.repository import Repository
from storage.shipped import ShippedStore
from tests.factories import feedback_and_triage

pytestmark = pytest.mark.backends("sqlite", "postgresql")
H = timedelta(hours=1)


@pytest.fixture
def repo(database, policy) -> Repository:
    return Repository(database, SlaPlanner(policy))


def respond(repo: Repository, policy, clock, external_id: str, **customer: Any):
    """A detractor response of Dana (cus-9, dana@example.com unless said), tagged export."""
    who = {"id": "cus-9", "name": "Dana", "email": "dana@example.com", **customer}
    who = {k: v for k, v in who.items() if v is not None}
    outcome = repo.record_feedback(*feedback_and_triage(policy, id=external_id, customer=who), clock())
    clock.advance(minutes=5)
    return outcome


def words(database: Database) -> dict[str, bool | None]:
    with database.transaction() as session:
        return {e: ok for e, ok in session.execute(select(Feedback.external_id, Feedback.contact_ok))}


def test_an_opt_out_on_a_newer_response_stops_the_follow_up_of_an_older_case(repo, database, policy, clock):
    older = respond(repo, policy, clock, "r-1")
    assert contact_refusal(policy.outer_loop, repo.get_case(older.case_id)) is None
    respond(repo, policy, clock, "r-2", contact_ok=False)
    refusal = contact_refusal(policy.outer_loop, repo.get_case(older.case_id))
    assert refusal is not None and refusal.code == "opted_out"


def test_a_newer_response_that_says_nothing_keeps_the_customers_no(repo, database, policy, clock):
    respond(repo, policy, clock, "r-1", contact_ok=False)
    by_mail = respond(repo, policy, clock, "r-2", id=None, email="Dana@Example.com")  # same mailbox, no id
    by_id = respond(repo, policy, clock, "r-3", email="elsewhere@example.com")  # same id, other address
    assert words(database) == {"r-1": False, "r-2": False, "r-3": False}
    for case_id in (by_mail.case_id, by_id.case_id):
        refusal = contact_refusal(policy.outer_loop, repo.get_case(case_id))
        assert refusal is not None and refusal.code == "opted_out"
    found, told = ShippedStore(database).candidates("export")
    who = audience(policy.outer_loop, found, told)
    assert who.recipients == [] and who.skipped_by_reason() == {"opted_out": 1}


def test_an_explicit_yes_later_lets_them_be_written_to_again(repo, database, policy, clock):
    first = respond(repo, policy, clock, "r-1", contact_ok=False)
    respond(repo, policy, clock, "r-2", contact_ok=True)
    assert words(database) == {"r-1": True, "r-2": True}
    assert contact_refusal(policy.outer_loop, repo.get_case(first.case_id)) is None
    respond(repo, policy, clock, "r-3", id=None)  # says nothing: keeps the yes
    assert words(database)["r-3"] is True


def test_a_re_send_speaks_for_the_customer_too(repo, database, policy, clock):
    respond(repo, policy, clock, "r-1")
    respond(repo, policy, clock, "r-2")
    respond(repo, policy, clock, "r-1", contact_ok=False)  # the first response re-sent with a no
    assert words(database) == {"r-1": False, "r-2": False}
    respond(repo, policy, clock, "r-2")  # re-sent without a word: the no stays
    assert words(database) == {"r-1": False, "r-2": False}
    respond(repo, policy, clock, "r-2", contact_ok=True)
    assert words(database) == {"r-1": True, "r-2": True}


def test_an_imported_response_takes_the_customers_stored_word(repo, database, policy, clock):
    respond(repo, policy, clock, "r-1", contact_ok=False)
    data, decide = feedback_and_triage(
        policy,
        id="old-1",
        customer={"id": "cus-9", "email": "dana@example.com"},
        submitted_at="2025-01-02T10:00:00Z",
    )
    stranger, decide_stranger = feedback_and_triage(
        policy,
        id="old-2",
        customer={"id": "cus-1", "email": "fox@example.com"},
        submitted_at="2025-01-02T10:00:00Z",
    )
    items = [
        ImportItem(1, data, decide(data), False),
        ImportItem(2, stranger, decide_stranger(stranger), False),
    ]
    result = BulkImport(database).write(items, {"support": "C0SUPPORT"}, clock())
    assert result.created == 2
    assert words(database) == {"r-1": False, "old-1": False, "old-2": None}
