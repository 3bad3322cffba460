"""The outbox under load and under faults, end to end against the simulated Slack: a hanging
Slack call holds up only what must come after it, a click's edit is not queued behind slow
posts, and a full outbox after an outage drains at Slack's pace with no burst of 429s.

Nothing here sleeps to a deadline: the tests wait (bounded) for work to happen, and assert the
order of events, never a wall-clock figure."""

from __future__ import annotations

import json

from tests.factories import payload
from tests.support.crash_helpers import exactly_once_problems, owed, posted_case_ids, wait_until

HANG_SECONDS = 5.0  # one late Slack answer (well inside the client's 15 s timeout)


def refusals(stack, status: int) -> list[str]:
    return [c.method for c in stack.simulator.calls if c.http_status == status]


def catch_up(stack, clock, rounds: int = 200) -> int:
    """Sweep, moving the clock a second at a time, until nothing is owed."""
    for done in range(rounds):
        if not owed(stack.runtime.database):
            return done
        clock.advance(seconds=1)
        stack.runtime.outbox_queue.request_sweep()
        stack.settle()
    raise AssertionError(f"still owed: {owed(stack.runtime.database)[:5]}")


def test_one_hanging_post_holds_up_neither_other_channels_nor_a_click_in_its_own_channel(stack):
    simulator = stack.simulator
    support = stack.post_feedback(payload(id="early", comment="Export fails.")).body["case_id"]
    stack.settle()
    early = stack.runtime.repository.get_case(support)
    assert early.slack_ts is not None

    simulator.inject_fault("chat.postMessage", delay_seconds=HANG_SECONDS, times=1)
    hung = stack.post_feedback(payload(id="hung", comment="Export fails again.")).body["case_id"]
    assert wait_until(lambda: stack.runtime.repository.get_case(hung).post_attempts == 1, timeout=5)
    billing = stack.post_feedback(payload(id="billing", comment="Charged twice, refund please."))
    product = stack.post_feedback(payload(id="product", comment="Crashes on save.", tags=["bug"]))
    stack.slack.click("U0ALICE", early.slack_channel, early.slack_ts, "case_claim")

    def others_done() -> bool:
        claimed = "<@U0ALICE>" in json.dumps(simulator.message(early.slack_channel, early.slack_ts).blocks)
        return claimed and bool(simulator.messages("C0BILLING")) and bool(simulator.messages("C0PRODUCT"))

    assert wait_until(others_done, timeout=HANG_SECONDS * 0.8), "other work waited for the hanging call"
    assert posted_case_ids(simulator, "C0SUPPORT") == [support], "the hanging post was answered already"
    simulator.clear_faults()
    stack.settle()
    assert posted_case_ids(simulator, "C0SUPPORT") == [support, hung]
    assert posted_case_ids(simulator, "C0BILLING") == [billing.body["case_id"]]
    assert posted_case_ids(simulator, "C0PRODUCT") == [product.body["case_id"]]


def test_a_slow_slack_slows_neither_the_intake_nor_the_ack_of_a_click(stack):
    """Slack answering after 10 s: the intake's 202 and the click's ack come before any of the
    slow answers (the simulator records a call once it has answered it)."""
    simulator = stack.simulator
    first = stack.post_feedback(payload(id="first", comment="Export fails.")).body["case_id"]
    stack.settle()
    case = stack.runtime.repository.get_case(first)
    calls_before = len(simulator.calls)
    simulator.inject_fault("*", delay_seconds=10, times=3)
    answered = stack.post_feedback(payload(id="slow", comment="Charged twice, refund please."))
    clicked = stack.slack.click("U0BOB", case.slack_channel, case.slack_ts, "case_claim")
    assert answered.status == 202
    assert clicked.status == 200 and not clicked.timed_out
    assert simulator.calls[calls_before:] == [], "an answer waited for Slack"
    simulator.clear_faults()  # Slack answers the stalled calls now: no need to wait them out
    stack.settle()
    assert simulator.messages("C0BILLING")
    assert "<@U0BOB>" in json.dumps(simulator.message(case.slack_channel, case.slack_ts).blocks)


def test_the_first_click_after_start_up_is_acked_while_slack_is_slow(stack):
    """Bolt's own authorization would call auth.test on the first request, before the ack; the
    bot's identity is known from the start-up check instead, so no request waits on Slack."""
    first = stack.post_feedback(payload(id="first", comment="Export fails.")).body["case_id"]
    stack.settle()
    case = stack.runtime.repository.get_case(first)
    stack.simulator.inject_fault("*", delay_seconds=10, times=2)
    clicked = stack.slack.click("U0BOB", case.slack_channel, case.slack_ts, "case_claim")
    assert clicked.status == 200 and not clicked.timed_out
    stack.simulator.clear_faults()


def test_edits_of_one_message_coalesce_into_the_latest(stack, clock):
    """Five changes while the workspace's edit budget is spent: one edit, showing the last."""
    stack.runtime.outbox_worker.sender.pacer.hold_edits(30)  # as after a 429 on chat.update
    case_id = stack.post_feedback(payload(id="often", comment="Export fails.")).body["case_id"]
    stack.settle()
    cases = stack.runtime.services.cases  # what the clicks call (the message shows no new buttons)
    for user in ("U0ALICE", "U0BOB", "U0CAROL"):
        cases.claim(case_id, user)
        stack.settle()
        if user != "U0CAROL":
            cases.release(case_id, user)
            stack.settle()
    assert stack.simulator.calls_to("chat.update") == []
    clock.advance(seconds=50)  # past the hold, and the reserve a background edit leaves to clicks
    stack.runtime.outbox_queue.request(case_id)
    stack.settle()
    updates = stack.simulator.calls_to("chat.update")
    assert len(updates) == 1
    final = stack.runtime.repository.get_case(case_id)
    assert final.message_version == final.version
    assert final.owner_id == "U0CAROL" and "<@U0CAROL>" in json.dumps(updates[0].params["blocks"])


def test_a_full_outbox_after_an_outage_drains_at_slacks_pace_without_a_burst_of_429s(stack, clock):
    """Slack is down while 60 cases are claimed: 60 edits and 60 thread replies are owed. When it
    is back they go at Slack's pace (edits per workspace, posts per channel): no 429 at all."""
    comments = ["Export fails.", "Charged twice, refund please.", "Crashes on save."]
    ids = []
    for n in range(60):
        extra = {"tags": ["bug"]} if n % 3 == 2 else {}
        ids.append(
            stack.post_feedback(payload(id=f"out-{n}", comment=comments[n % 3], **extra)).body["case_id"]
        )
    catch_up(stack, clock)
    for method in ("chat.update", "chat.postMessage"):
        stack.simulator.inject_fault(method, status=503, times=10_000)
    for case_id in ids:
        case = stack.runtime.repository.get_case(case_id)
        stack.slack.click("U0ALICE", case.slack_channel, case.slack_ts, "case_claim")
    stack.settle()
    assert len(owed(stack.runtime.database)) >= 60
    stack.simulator.clear_faults()
    before = len(stack.simulator.calls)
    catch_up(stack, clock)
    after = stack.simulator.calls[before:]
    assert [c.method for c in after if c.http_status == 429] == []
    assert len([c for c in after if c.method == "chat.update"]) == 60
    assert (
        exactly_once_problems(
            stack.runtime.database, stack.simulator, ("C0SUPPORT", "C0BILLING", "C0PRODUCT")
        )
        == []
    )
