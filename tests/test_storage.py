"""Storage on SQLite and PostgreSQL: upserts, atomic transitions, the append-only history."""

from __future__ import annotations

from sqlalchemy import select

from bot.domain.records import CloseDetails
from bot.domain.vocabulary import CaseStatus, DeliveryKind, EventKind
from storage.models import Delivery
from storage.outbox_store import OutboxStore
from storage.repository import Repository
from tests.factories import feedback_and_triage

CLOSE = CloseDetails("resolved", "phone", "Product bug", "Workaround given", "Called, fixed export.", True)


def deliveries(repository: Repository) -> list[tuple[str, int | None]]:
    with repository.database.transaction() as session:
        return [(d.kind, d.event_id) for d in session.scalars(select(Delivery).order_by(Delivery.id))]


def test_a_detractor_becomes_one_case_with_a_created_event(repository, policy, clock):
    outcome = repository.record_feedback(*feedback_and_triage(policy), clock())
    assert outcome.created and outcome.changed and outcome.case_id is not None
    case = repository.get_case(outcome.case_id)
    assert (case.status, case.category, case.department, case.priority) == (
        "new",
        "detractor",
        "support",
        "urgent",  # the example policy raises enterprise detractors from high to urgent
    )
    assert case.customer_name == "Dana Scully" and case.tags == ("export",)
    assert case.received_at == clock() and case.version == 1 and case.slack_ts is None
    assert [e.kind for e in repository.history(case.id)] == [EventKind.CREATED]
    assert deliveries(repository) == []  # the case message itself is owed via its version


def test_resending_the_same_response_changes_nothing(repository, policy, clock):
    first = repository.record_feedback(*feedback_and_triage(policy), clock())
    again = repository.record_feedback(*feedback_and_triage(policy), clock())
    assert (again.feedback_id, again.case_id) == (first.feedback_id, first.case_id)
    assert not again.created and not again.changed
    assert repository.counts() == {"feedback": 1, "cases": 1, "case_events": 1, "deliveries": 0}


def test_a_later_comment_updates_the_same_case_and_keeps_what_it_omits(repository, policy, clock):
    first = repository.record_feedback(*feedback_and_triage(policy, comment=None), clock())
    clock.advance(minutes=3)
    data, triage = feedback_and_triage(policy, comment="Still broken.")
    # The update carries only id, survey, score and comment: the customer must survive it.
    data = data.__class__(
        **{**data.__dict__, "customer_name": None, "provided": frozenset({"score", "comment"})}
    )
    second = repository.record_feedback(data, triage, clock())
    assert second.case_id == first.case_id and second.changed and not second.created
    case = repository.get_case(first.case_id)
    assert case.comment == "Still broken." and case.customer_name == "Dana Scully" and case.version == 2
    events = repository.history(case.id)
    assert [e.kind for e in events] == [EventKind.CREATED, EventKind.FEEDBACK_UPDATED]
    assert events[1].details["fields"] == ["comment"]
    assert deliveries(repository) == [(DeliveryKind.THREAD_REPLY, events[1].id)]
    assert repository.counts()["cases"] == 1


def test_a_promoter_gets_one_notice_and_no_case(repository, policy, clock):
    outcome = repository.record_feedback(*feedback_and_triage(policy, score=10), clock())
    assert outcome.case_id is None and outcome.category == "promoter"
    repository.record_feedback(*feedback_and_triage(policy, score=10, comment="Love it"), clock())
    assert [kind for kind, _ in deliveries(repository)] == [DeliveryKind.NOTICE]
    assert repository.counts()["cases"] == 0


def test_a_promoter_who_turns_detractor_gets_a_case(repository, policy, clock):
    repository.record_feedback(*feedback_and_triage(policy, score=9), clock())
    outcome = repository.record_feedback(*feedback_and_triage(policy, score=2), clock())
    assert outcome.case_id is not None and repository.get_case(outcome.case_id).category == "detractor"


def test_claim_is_won_once_and_explains_who_has_it(repository, policy, clock):
    case_id = repository.record_feedback(*feedback_and_triage(policy), clock()).case_id
    won = repository.claim(case_id, "U0ALICE", clock())
    lost = repository.claim(case_id, "U0BOB", clock())
    again = repository.claim(case_id, "U0ALICE", clock())
    assert won.applied and won.case.owner_id == "U0ALICE" and won.case.status == CaseStatus.CLAIMED
    assert not lost.applied and lost.case.owner_id == "U0ALICE"
    assert not again.applied and again.case.version == won.case.version
    assert [e.kind for e in repository.history(case_id)] == [EventKind.CREATED, EventKind.CLAIMED]


def test_only_the_owner_releases_or_logs_contact(repository, policy, clock):
    case_id = repository.record_feedback(*feedback_and_triage(policy), clock()).case_id
    repository.claim(case_id, "U0ALICE", clock())
    assert not repository.release(case_id, "U0BOB", clock()).applied
    assert not repository.log_contact(case_id, "U0BOB", "phone", "", clock()).applied
    contacted = repository.log_contact(case_id, "U0ALICE", "phone", "left a voicemail", clock())
    assert contacted.applied and contacted.case.status == CaseStatus.CONTACTED
    released = repository.release(case_id, "U0ALICE", clock())
    assert released.applied and released.case.owner_id is None and released.case.status == CaseStatus.NEW


def test_close_records_the_outcome_history_and_an_announcement(repository, policy, clock):
    case_id = repository.record_feedback(*feedback_and_triage(policy), clock()).case_id
    repository.claim(case_id, "U0ALICE", clock())
    assert not repository.close(case_id, "U0BOB", CLOSE, clock(), expected_owner="U0BOB").applied
    clock.advance(hours=2)
    closed = repository.close(case_id, "U0ALICE", CLOSE, clock(), expected_owner="U0ALICE")
    assert closed.applied
    case = closed.case
    assert (case.status, case.outcome, case.root_cause, case.closed_by) == (
        "closed",
        "resolved",
        "Product bug",
        "U0ALICE",
    )
    assert case.closed_at == clock() and case.customer_informed is True
    events = repository.history(case_id)
    assert events[-1].kind == EventKind.CLOSED and events[-1].details["note"] == "Called, fixed export."
    kinds = [kind for kind, _ in deliveries(repository)]
    assert kinds == [DeliveryKind.THREAD_REPLY, DeliveryKind.THREAD_REPLY, DeliveryKind.ANNOUNCEMENT]
    assert not repository.close(case_id, "U0ALICE", CLOSE, clock(), expected_owner="U0ALICE").applied
    assert not repository.claim(case_id, "U0BOB", clock()).applied


def test_closing_an_unclaimed_case_makes_the_closer_its_owner(repository, policy, clock):
    case_id = repository.record_feedback(*feedback_and_triage(policy), clock()).case_id
    closed = repository.close(case_id, "U0BOB", CLOSE, clock(), expected_owner=None)
    assert closed.applied and closed.case.owner_id == "U0BOB"


def test_sync_leases_are_exclusive_and_expire(repository, database, policy, clock):
    store = OutboxStore(database)
    case_id = repository.record_feedback(*feedback_and_triage(policy), clock()).case_id
    assert store.cases_owed(clock()) == [case_id]
    assert store.lease_case(case_id, clock(), 60) is not None
    assert store.lease_case(case_id, clock(), 60) is None
    assert store.cases_owed(clock()) == []
    clock.advance(seconds=61)
    assert store.lease_case(case_id, clock(), 60) is not None  # a crashed worker's lease runs out
    assert store.mark_posted(case_id, "support", "C0SUPPORT", "1.000100", 1)
    store.release_case(case_id)
    assert store.cases_owed(clock()) == []
    repository.claim(case_id, "U0ALICE", clock())
    assert store.cases_owed(clock()) == [case_id]  # version 2 > message_version 1
