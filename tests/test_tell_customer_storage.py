"""The follow-up rows on SQLite and PostgreSQL: one follow-up however many submit at once; a send
interrupted by a crash becomes uncertain, a webhook's goes again until its tries are spent; a
message is leased one at a time and its lease renewed when it is marked sending, so a live send
is never taken for a crashed one; a reopened case's pending follow-up is cancelled and a second
one is refused while the first is still on its way."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from bot.domain.vocabulary import DeliveryKind, DeliveryStatus, FollowUp, MessageStatus
from storage.customer_messages import CustomerMessages
from storage.deadline_store import NoDeadlines
from storage.models import CustomerMessage, Delivery
from tests.factories import feedback_and_triage
from tests.support.race import race
from tests.test_tell_customer_rules import NOT_TOLD, NOW

pytestmark = pytest.mark.backends("sqlite", "postgresql")
TRIES = 6


@pytest.fixture
def closed_case(repository, policy):
    data, decide = feedback_and_triage(policy)
    outcome = repository.record_feedback(data, decide, NOW)
    repository.claim(outcome.case_id, "U0ALICE", NOW)
    result = repository.close(outcome.case_id, "U0ALICE", NOT_TOLD, NOW, expected_owner="U0ALICE")
    assert result.case is not None and result.case.follow_up == FollowUp.OWED
    return result.case


@pytest.fixture
def store(database) -> CustomerMessages:
    return CustomerMessages(database, NoDeadlines())


def queue(store: CustomerMessages, case_id: int, via: str = "email", now: Any = NOW) -> Any:
    return store.queue(
        case_id, "U0ALICE", "Fixed.", via=via, to_address="dana@example.com", language="en", now=now
    )


def lease_and_mark(store: CustomerMessages, now: Any, seconds: float = 60) -> Any:
    leased = store.lease_next(now, seconds)
    assert leased is not None
    assert store.mark_sending(leased.message.id, leased.message.lease_until, now, seconds, None, "<m@acme>")
    return leased


def test_one_follow_up_however_many_are_sent_at_once(store, closed_case):
    results = race(6, lambda _i: queue(store, closed_case.id))
    assert sum(r.refusal is None for r in results) == 1
    assert {r.refusal for r in results if r.refusal} == {
        "A follow-up to this customer is on its way already."
    }
    assert len(store.of_case(closed_case.id)) == 1


def test_a_send_interrupted_by_a_crash_becomes_uncertain_and_its_author_is_told(
    database, store, closed_case
):
    queue(store, closed_case.id)
    lease_and_mark(store, NOW)
    assert store.lease_next(NOW, 60) is None  # sending: nobody leases it again
    assert store.find_interrupted(NOW + timedelta(seconds=30), TRIES) == []  # its lease still runs
    (found,) = store.find_interrupted(NOW + timedelta(seconds=61), TRIES)
    assert found.status == MessageStatus.UNCERTAIN
    assert store.lease_next(NOW + timedelta(hours=1), 60) is None  # never resent by itself
    assert store.find_interrupted(NOW + timedelta(hours=1), TRIES) == []
    with database.transaction() as session:
        kinds = [d.kind for d in session.query(Delivery).filter(Delivery.status == DeliveryStatus.PENDING)]
    assert DeliveryKind.FOLLOW_UP_DM in kinds and DeliveryKind.FOLLOW_UP_REPLY in kinds


def test_a_webhook_interrupted_by_a_crash_simply_goes_again(store, closed_case):
    queued = queue(store, closed_case.id, via="webhook")
    lease_and_mark(store, NOW)
    assert store.find_interrupted(NOW + timedelta(seconds=61), TRIES) == []
    again = store.lease_next(NOW + timedelta(seconds=61), 60)
    assert again is not None and again.message.id == queued.message.id and again.message.attempts == 1


def test_a_webhook_that_keeps_breaking_off_fails_after_its_tries(store, closed_case):
    queue(store, closed_case.id, via="webhook")
    now = NOW
    for _ in range(TRIES):  # each try dies after `sending` (an exception, a crash)
        lease_and_mark(store, now)
        now += timedelta(seconds=61)
        settled = store.find_interrupted(now, TRIES)
    (failed,) = settled
    assert failed.status == MessageStatus.FAILED and failed.attempts == TRIES
    assert store.lease_next(now + timedelta(hours=1), 60) is None
    assert store.find_interrupted(now + timedelta(hours=1), TRIES) == []
    assert store.latest(closed_case.id).status == MessageStatus.FAILED


def test_marking_sending_is_fenced_by_the_lease(database, store, closed_case):
    queued = queue(store, closed_case.id)
    leased = store.lease_next(NOW, 60)
    with database.transaction() as session:  # the lease ran out and another worker took it
        session.execute(
            update(CustomerMessage)
            .values(lease_until=NOW + timedelta(minutes=5))
            .where(CustomerMessage.id == queued.message.id)
        )
    assert not store.mark_sending(queued.message.id, leased.message.lease_until, NOW, 60, None, "<m@acme>")


def test_messages_are_leased_one_at_a_time(repository, store, policy):
    """Leasing twenty at once let the last ones' leases run out while the first were sent."""
    case_ids = []
    for index in range(3):
        customer = {"id": f"cus-{index}", "name": "Dana", "email": f"dana{index}@example.com"}
        data, decide = feedback_and_triage(policy, id=f"resp-{index}", customer=customer)
        case_id = repository.record_feedback(data, decide, NOW).case_id
        repository.claim(case_id, "U0ALICE", NOW)
        repository.close(case_id, "U0ALICE", NOT_TOLD, NOW, expected_owner="U0ALICE")
        queue(store, case_id)
        case_ids.append(case_id)
    first = store.lease_next(NOW, 60)
    assert first is not None and first.message.lease_until == NOW + timedelta(seconds=60)
    leases = [m.lease_until for case_id in case_ids for m in store.of_case(case_id)]
    assert leases == [NOW + timedelta(seconds=60), None, None]


def test_a_lease_run_out_before_sending_is_not_used_and_sending_renews_it(store, closed_case):
    queued = queue(store, closed_case.id)
    leased = store.lease_next(NOW, 60)
    late = NOW + timedelta(seconds=61)  # the sends before it took this long
    assert not store.mark_sending(queued.message.id, leased.message.lease_until, late, 60, None, "<m@acme>")
    again = store.lease_next(late, 60)
    assert again is not None
    soon = late + timedelta(seconds=50)
    assert store.mark_sending(queued.message.id, again.message.lease_until, soon, 60, None, "<m@acme>")
    # leased at `late` for 60 s, renewed at `soon` for 60 s more: still ours at late + 70 s
    assert store.find_interrupted(late + timedelta(seconds=70), TRIES) == []
    sent = store.mark_sent(queued.message.id, late + timedelta(seconds=71))
    assert sent is not None and sent.follow_up == FollowUp.TOLD


def test_reopening_cancels_a_follow_up_backing_off_and_a_new_one_waits_for_a_sending_one(
    repository, store, closed_case
):
    first = queue(store, closed_case.id)
    lease_and_mark(store, NOW)
    store.retry_later(first.message.id, "451 later", NOW + timedelta(minutes=5))  # the server is down
    later = NOW + timedelta(minutes=1)
    assert repository.reopen(closed_case.id, "U0ALICE", later, expected_owner="U0ALICE").case is not None
    assert store.latest(closed_case.id).status == MessageStatus.CANCELLED
    assert store.lease_next(NOW + timedelta(minutes=10), 60) is None  # it never goes
    assert repository.close(closed_case.id, "U0ALICE", NOT_TOLD, later, expected_owner="U0ALICE").case
    second = queue(store, closed_case.id, now=later)
    assert second.refusal is None
    lease_and_mark(store, later)  # the second is being sent as the case is reopened and closed
    repository.reopen(closed_case.id, "U0ALICE", later, expected_owner="U0ALICE")
    repository.close(closed_case.id, "U0ALICE", NOT_TOLD, later, expected_owner="U0ALICE")
    assert queue(store, closed_case.id, now=later).refusal == (
        "A follow-up to this customer is on its way already."
    )
    statuses = [m.status for m in store.of_case(closed_case.id)]
    assert statuses == [MessageStatus.CANCELLED, MessageStatus.SENDING]
