"""Deadline rows on SQLite and PostgreSQL: written with the change that causes them, swept once,
acknowledged, snoozed, and still there after a restart."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.deadlines import SlaPlanner, decide
from bot.domain.lifecycle import Action, Code, Refusal
from bot.domain.records import CloseDetails
from bot.domain.vocabulary import DeadlineKind, DeadlineStatus, DeliveryKind, EventKind, Step
from storage.db import Database
from storage.deadline_store import DeadlineStore
from storage.repository import Repository
from storage.snapshots import snapshot
from tests.factories import feedback_and_triage
from tests.test_storage import deliveries

H = timedelta(hours=1)
CLOSE = CloseDetails("resolved", "phone", "Product bug", "Workaround given", "Called, fixed export.", True)


@pytest.fixture
def repo(database, policy) -> Repository:
    return Repository(database, SlaPlanner(policy))


@pytest.fixture
def store(database) -> DeadlineStore:
    return DeadlineStore(database, snapshot)


def open_case(repo, policy, clock, **overrides) -> int:
    # A plain detractor (not enterprise): claim 2h, first contact 1d, close 3d, second level +4h.
    customer = {"name": "Dana Scully", "segment": "smb"}
    outcome = repo.record_feedback(*feedback_and_triage(policy, customer=customer, **overrides), clock())
    assert outcome.case_id is not None
    return outcome.case_id


def pending(store, case_id):
    return sorted((r.kind, r.step, r.level, r.recipient) for r in store.pending(case_id))


def sweep(store, policy, now):
    batch = store.sweep_batch(now, lambda case, rows: decide(policy, case, rows, now))
    assert not batch.full  # a handful of rows: one batch takes them all
    return [firing for _, decision in batch.decisions for firing in decision.fire]


def test_opening_a_case_stores_its_due_dates_and_rows(repo, store, policy, clock):
    case_id = open_case(repo, policy, clock)
    case = repo.get_case(case_id)
    assert (case.claim_due_at, case.contact_due_at, case.close_due_at) == (
        clock() + 2 * H,
        clock() + 24 * H,
        clock() + 72 * H,
    )
    assert len(store.pending(case_id)) == 7  # a claim nudge, and two levels for each of three steps


def test_each_change_rewrites_the_rows_in_its_own_transaction(repo, store, policy, clock):
    case_id = open_case(repo, policy, clock)
    assert repo.claim(case_id, "U0ALICE", clock()).applied
    assert (DeadlineKind.CLAIM_NUDGE, Step.CLAIM, 0, None) not in pending(store, case_id)
    assert (DeadlineKind.OWNER_REMINDER, Step.CLOSE, 50, "U0ALICE") in pending(store, case_id)
    assert repo.log_contact(case_id, "U0ALICE", "phone", "called", clock()).applied
    assert {step for _, step, _, _ in pending(store, case_id)} == {Step.CLOSE}
    assert repo.close(case_id, "U0ALICE", CLOSE, clock(), expected_owner="U0ALICE").applied
    assert store.pending(case_id) == []
    statuses = {r.status for r in store.all_rows(case_id)}
    assert statuses == {DeadlineStatus.CANCELLED}


def test_a_due_row_fires_once_and_a_second_sweep_finds_nothing(repo, store, policy, clock):
    case_id = open_case(repo, policy, clock)
    version = repo.get_case(case_id).version
    assert sweep(store, policy, clock() + H) == []
    fired = sweep(store, policy, clock() + 2 * H)
    assert sorted(f.event_kind for f in fired) == [EventKind.CLAIM_NUDGE, EventKind.ESCALATED]
    assert sweep(store, policy, clock() + 2 * H) == []
    kinds = [e.kind for e in repo.history(case_id)]
    assert kinds.count(EventKind.CLAIM_NUDGE) == 1 and kinds.count(EventKind.ESCALATED) == 1
    dms = [d for d in deliveries(repo) if d[0] == DeliveryKind.ESCALATION_DM]
    assert len(dms) == 1  # to the one manager of support
    assert repo.get_case(case_id).version == version + 1  # re-rendered: it now shows overdue


def test_releasing_does_not_repeat_a_nudge_already_sent(repo, store, policy, clock):
    case_id = open_case(repo, policy, clock)
    sweep(store, policy, clock() + 2 * H)
    repo.claim(case_id, "U0ALICE", clock() + 3 * H)
    repo.release(case_id, "U0ALICE", clock() + 4 * H)
    assert sweep(store, policy, clock() + 5 * H) == []
    fired = sweep(store, policy, clock() + 6 * H)  # level 2 of the still-unclaimed claim step
    assert [(f.event_kind, f.details["level"]) for f in fired] == [(EventKind.ESCALATED, 2)]


def test_acknowledging_stops_the_chain_once(repo, store, policy, clock):
    case_id = open_case(repo, policy, clock)
    sweep(store, policy, clock() + 2 * H)
    answer = store.acknowledge(case_id, Step.CLAIM, "U0MAYA", clock() + 3 * H)
    assert answer.refusal is None
    again = store.acknowledge(case_id, Step.CLAIM, "U0OMAR", clock() + 3 * H)
    assert again.refusal == Refusal(Code.ALREADY_ACKNOWLEDGED, Action.ACKNOWLEDGE, person="U0MAYA")
    assert sweep(store, policy, clock() + 7 * H) == []  # no level 2 for the claim step
    # The other steps' chains are untouched.
    assert (DeadlineKind.ESCALATION, Step.CLOSE, 1, None) in pending(store, case_id)
    kinds = [e.kind for e in repo.history(case_id)]
    assert kinds.count(EventKind.ACKNOWLEDGED) == 1


def test_snoozing_holds_the_chain_until_then_and_pings_again(repo, store, policy, clock):
    case_id = open_case(repo, policy, clock)
    sweep(store, policy, clock() + 2 * H)
    assert store.snooze(case_id, Step.CLAIM, 1, "U0MAYA", clock() + 10 * H, clock() + 3 * H).refusal is None
    assert sweep(store, policy, clock() + 9 * H) == []  # level 2 was due at 6h: held
    fired = sweep(store, policy, clock() + 10 * H)  # Maya is pinged again; Carol hears of it now
    assert sorted((f.details["step"], f.details["level"]) for f in fired) == [
        (Step.CLAIM, 1),
        (Step.CLAIM, 2),
    ]
    # Nothing left pending on the claim chain: snoozing again pings that level again later.
    assert store.snooze(case_id, Step.CLAIM, 2, "U0CAROL", clock() + 20 * H, clock() + 11 * H).refusal is None
    assert sweep(store, policy, clock() + 19 * H) == []
    fired = sweep(store, policy, clock() + 20 * H)
    assert [(f.details["step"], f.details["level"]) for f in fired] == [(Step.CLAIM, 2)]


def test_snoozed_rows_keep_their_time_when_the_case_changes(repo, store, policy, clock):
    case_id = open_case(repo, policy, clock)
    sweep(store, policy, clock() + 2 * H)
    store.snooze(case_id, Step.CLAIM, 1, "U0MAYA", clock() + 10 * H, clock() + 3 * H)
    repo.record_feedback(*feedback_and_triage(policy, comment="Also slow."), clock() + 4 * H)
    held = [(r.level, r.held, r.due_at) for r in store.pending(case_id) if r.step == Step.CLAIM]
    assert sorted(held) == [(1, True, clock() + 10 * H), (2, True, clock() + 10 * H)]


def test_a_closed_case_refuses_answers(repo, store, policy, clock):
    case_id = open_case(repo, policy, clock)
    sweep(store, policy, clock() + 2 * H)
    repo.close(case_id, "U0MAYA", CLOSE, clock() + 3 * H, expected_owner=None)
    assert store.acknowledge(case_id, Step.CLAIM, "U0MAYA", clock()).refusal == Refusal(
        Code.ALREADY_CLOSED, Action.ACKNOWLEDGE, owner="U0MAYA"
    )
    assert store.snooze(case_id, Step.CLAIM, 1, "U0MAYA", clock(), clock()).refusal == Refusal(
        Code.ALREADY_CLOSED, Action.SNOOZE, owner="U0MAYA"
    )
    assert store.acknowledge(999, Step.CLAIM, "U0MAYA", clock()).refusal == Refusal(
        Code.NOT_FOUND, Action.ACKNOWLEDGE
    )


def test_reassigning_tells_the_new_owner_and_acknowledges(repo, store, policy, clock):
    case_id = open_case(repo, policy, clock)
    sweep(store, policy, clock() + 2 * H)
    result = repo.reassign(case_id, "U0MAYA", "U0BOB", clock() + 3 * H, expected_owner=None, step=Step.CLAIM)
    assert result.applied and result.case.owner_id == "U0BOB" and result.case.status == "claimed"
    assert ("assigned_dm", repo.history(case_id)[-1].id) in deliveries(repo)
    assert not repo.reassign(
        case_id, "U0MAYA", "U0BOB", clock(), expected_owner=None, step=Step.CLAIM
    ).applied
    assert not repo.reassign(
        case_id, "U0MAYA", "U0BOB", clock(), expected_owner="U0BOB", step=Step.CLAIM
    ).applied
    assert store.acknowledge(case_id, Step.CLAIM, "U0OMAR", clock()).refusal == Refusal(
        Code.ALREADY_ACKNOWLEDGED, Action.ACKNOWLEDGE, owner="U0BOB", person="U0MAYA"
    )
    assert (DeadlineKind.OWNER_REMINDER, Step.CLOSE, 50, "U0BOB") in pending(store, case_id)


def test_rows_survive_a_restart(database_url, policy, clock):
    first = Database(database_url)
    case_id = open_case(Repository(first, SlaPlanner(policy)), policy, clock)
    first.dispose()  # the process goes away before anything is due
    second = Database(database_url)
    try:
        fired = sweep(DeadlineStore(second, snapshot), policy, clock() + 2 * H)
        assert {f.event_kind for f in fired} == {EventKind.CLAIM_NUDGE, EventKind.ESCALATED}
        assert Repository(second).get_case(case_id).status == "new"
    finally:
        second.dispose()


def test_overdue_and_at_risk_lists(repo, store, policy, clock):
    late = open_case(repo, policy, clock, id="r-late")
    clock.advance(hours=1)
    soon = open_case(repo, policy, clock, id="r-soon")
    done = open_case(repo, policy, clock, id="r-done")
    repo.close(done, "U0MAYA", CLOSE, clock(), expected_owner=None)
    now = clock() + timedelta(hours=1, minutes=30)  # 'late' was due to be claimed 30 min ago
    total, cases = store.open_cases_due_between(None, now)
    assert (total, [c.id for c in cases]) == (1, [late])
    total, cases = store.open_cases_due_between(now, now + 2 * H)  # at risk: due soon, none missed
    assert (total, [c.id for c in cases]) == (1, [soon])
    assert store.open_cases_due_between(None, now + 2 * H, department="billing") == (0, [])
