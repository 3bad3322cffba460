"""Assign…: a department manager gives a case nobody has claimed to a colleague, with a reason,
through the Hand over form; others are told privately why not. End to end, against the
simulated Slack, and raced against a claim on the real databases."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.domain.lifecycle import Action
from bot.domain.vocabulary import EventKind
from storage.db import Database
from storage.repository import Repository
from tests.factories import feedback_and_triage
from tests.support import steps
from tests.support.steps import click
from tests.test_hand_over import SMB, buttons, dm_texts, hand_over, thread_texts

REASON = "Bob speaks their language; please call today."


@pytest.mark.backends("sqlite", "postgresql")
def test_a_manager_assigns_a_new_case_to_a_member(stack):
    case = steps.open_case(stack, customer=SMB)
    assert "case_hand_over" in buttons(stack, case)  # "Assign…" on an unclaimed case
    result, view = hand_over(stack, "U0MAYA", case, {"person": "U0BOB", "reason": REASON})
    assert result.ok and not result.json, result.body
    assert view["title"]["text"] == "Assign" and view["submit"]["text"] == "Assign"
    current = stack.runtime.repository.get_case(case.id)
    assert (current.owner_id, current.status) == ("U0BOB", "claimed")
    stored = str(stack.simulator.message(case.slack_channel, case.slack_ts).blocks)
    assert "Claimed by <@U0BOB>" in stored  # the case message is edited in place
    (dm,) = dm_texts(stack, "U0BOB")
    assert f"<@U0MAYA> gave you case #{case.id}." in dm and REASON in dm
    assert any(
        f"<@U0MAYA> assigned this case to <@U0BOB>: “{REASON}”" in t for t in thread_texts(stack, case)
    )
    (event,) = [e for e in stack.runtime.repository.history(case.id) if e.kind == EventKind.REASSIGNED]
    assert (event.actor, event.details["from"], event.details["to"]) == ("U0MAYA", None, "U0BOB")


def test_a_colleague_who_is_not_a_manager_may_not_assign(stack):
    case = steps.open_case(stack, customer=SMB)
    click(stack, "U0BOB", case, "case_hand_over")
    (told,) = stack.simulator.ephemerals("U0BOB")
    assert told.text == (
        "Only a manager of this department can assign a case nobody has claimed — "
        "press Claim to take it yourself."
    )
    assert stack.simulator.open_views("U0BOB") == []
    assert stack.runtime.repository.get_case(case.id).owner_id is None


@pytest.mark.backends("sqlite", "postgresql")
def test_a_claim_and_an_assignment_at_once_make_exactly_one_owner(database_url, policy, clock):
    setup = Database(database_url)
    case_id = Repository(setup).record_feedback(*feedback_and_triage(policy), clock()).case_id
    setup.dispose()
    databases = [Database(database_url) for _ in range(2)]  # two processes, as it were
    barrier = threading.Barrier(2)

    def claim():
        barrier.wait()
        return Repository(databases[0]).claim(case_id, "U0ALICE", clock())

    def assign():
        barrier.wait()
        return Repository(databases[1]).reassign(
            case_id, "U0MAYA", "U0BOB", clock(), expected_owner=None, reason=REASON, action=Action.HAND_OVER
        )

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            claimed, assigned = pool.submit(claim), pool.submit(assign)
            results = [claimed.result(), assigned.result()]
    finally:
        for db in databases:
            db.dispose()
    (winner,) = [r for r in results if r.applied]
    assert all(r.case.owner_id == winner.case.owner_id for r in results)
    check = Database(database_url)
    kinds = [e.kind for e in Repository(check).history(case_id)]
    check.dispose()
    assert kinds.count(EventKind.CLAIMED) + kinds.count(EventKind.REASSIGNED) == 1
