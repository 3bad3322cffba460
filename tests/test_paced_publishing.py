"""Posting at Slack's pace without holding anything up: a burst in one channel books later slots
instead of sleeping, is not an error, and comes back by itself when its slot is due."""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.domain.vocabulary import DeliveryKind, DeliveryStatus
from bot.outbox.queue import Later
from storage.models import Delivery
from tests.factories import payload
from tests.support.crash_helpers import posted_case_ids


class ClockLater:
    """What `Later` does in production, on the test's clock: records what pacing put off and,
    when told, moves the clock to each due time in turn and asks the queue for that work."""

    def __init__(self, stack, clock) -> None:
        self.stack, self.clock = stack, clock
        self.asked: list[tuple[int | None, float]] = []
        self.due: dict[int | None, datetime] = {}
        stack.runtime.outbox_worker.on_deferred = self.call_later

    def call_later(self, key: int | None, seconds: float) -> None:
        self.asked.append((key, seconds))
        at = self.clock() + timedelta(seconds=seconds)
        self.due[key] = min(at, self.due.get(key, at))

    def run_until_nothing_waits(self, limit: int = 50) -> int:
        rounds = 0
        while self.due:
            key, at = min(self.due.items(), key=lambda item: item[1])
            del self.due[key]
            if at > self.clock():
                self.clock.advance(seconds=(at - self.clock()).total_seconds())
            self.stack.runtime.outbox_queue.request(key)
            self.stack.settle()
            rounds += 1
            assert rounds <= limit, "paced work keeps coming back without going out"
        return rounds


def no_refusals(stack) -> list[str]:
    return [f"{c.method}: {c.http_status}" for c in stack.simulator.calls if c.http_status != 200]


def test_a_burst_is_paced_without_errors_and_comes_back_in_order_when_its_slots_are_due(stack, clock, caplog):
    later = ClockLater(stack, clock)
    caplog.set_level(logging.WARNING)
    ids = [stack.post_feedback(payload(id=f"burst-{n}")).body["case_id"] for n in range(8)]
    stack.settle()
    assert posted_case_ids(stack.simulator, "C0SUPPORT") == ids[:5]  # a burst of five goes at once
    assert later.asked == [(ids[5], 1.0), (ids[6], 2.0), (ids[7], 3.0)]  # each its own next slot

    # Being paced is normal: nothing is logged, counted as a failure or shown to an admin.
    assert [r.getMessage() for r in caplog.records] == []
    assert stack.runtime.outbox_worker.store.problems() == []  # no case or delivery with an error
    assert [stack.runtime.outbox_worker.store.failures(case_id) for case_id in ids[5:]] == [0, 0, 0]

    # Other work is not held up behind the backlog: a claim shows at once.
    first = stack.runtime.repository.get_case(ids[0])
    stack.slack.click("U0ALICE", first.slack_channel, first.slack_ts, "case_claim")
    stack.settle()
    assert stack.simulator.calls_to("chat.update"), "the claim waited behind the backlog"
    assert "<@U0ALICE>" in json.dumps(stack.simulator.messages("C0SUPPORT")[0].blocks)

    # Its thread reply ("claimed by …") is a post like any other: it takes the next slot.
    assert later.asked[3:] == [(ids[0], 4.0)]

    assert later.run_until_nothing_waits() == 4  # each comes back once, at its slot
    assert posted_case_ids(stack.simulator, "C0SUPPORT") == ids  # each once, in order
    assert len(stack.simulator.thread("C0SUPPORT", first.slack_ts)) == 2
    assert no_refusals(stack) == []  # never faster than Slack allows


def test_promoter_notices_are_paced_the_same_way_and_come_back_one_after_another(stack, clock):
    later = ClockLater(stack, clock)
    for number in range(8):
        stack.post_feedback(payload(id=f"fan-{number}", score=9, comment="Great support."))
    stack.settle()
    assert len(stack.simulator.messages("C0SUPPORT")) == 5
    assert later.due and set(later.due) == {None}  # the case-less notices
    assert stack.runtime.outbox_worker.store.problems() == []
    assert later.run_until_nothing_waits() == 3
    assert len(stack.simulator.messages("C0SUPPORT")) == 8
    assert no_refusals(stack) == []


def test_after_a_429_the_case_comes_back_when_slack_said_not_at_the_next_sweep(stack, clock):
    later = ClockLater(stack, clock)
    stack.simulator.inject_fault("chat.postMessage", status=429, times=1)  # Retry-After: 1
    case_id = stack.post_feedback(payload(id="limited")).body["case_id"]
    stack.settle()
    assert later.asked == [(case_id, 1.0)]
    later.run_until_nothing_waits()
    assert posted_case_ids(stack.simulator, "C0SUPPORT") == [case_id]


class Recorder:
    def __init__(self, expected: int) -> None:
        self.keys: list[int | None] = []
        self.expected = expected
        self.done = threading.Event()

    def __call__(self, key: int | None) -> None:
        self.keys.append(key)
        if len(self.keys) == self.expected:
            self.done.set()


class TimerClock:
    """The timer's clock, moved by the test: the timer thread only re-reads it as it polls."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_later_calls_back_in_order_of_due_time_and_a_key_waits_only_once():
    recorder = Recorder(expected=3)
    clock = TimerClock()
    later = Later(recorder, clock=clock, poll_seconds=0.01)
    try:
        later.call_later(1, 30)
        later.call_later(2, 20)
        later.call_later(1, 5)  # asked again sooner: the sooner time wins
        later.call_later(2, 50)  # asked again later: keeps its earlier time
        later.call_later(None, 10)  # the case-less notices
        assert later.pending() == 3 and recorder.keys == []
        clock.now = 100  # all three are due now; they come in the order of their times
        assert recorder.done.wait(timeout=10)
        assert recorder.keys == [1, None, 2]
        assert later.pending() == 0
    finally:
        later.stop()


def test_a_stopped_later_calls_nothing_more():
    recorder = Recorder(expected=1)
    later = Later(recorder)
    later.call_later(7, 30.0)
    later.stop()
    later.call_later(8, 0.0)
    assert later.pending() == 0 and recorder.keys == []


def test_a_busy_channel_does_not_hold_up_the_managers_escalation_dm(stack, clock):
    later = ClockLater(stack, clock)
    answer = stack.post_feedback(payload(customer={"name": "Dana Scully", "segment": "smb"}))
    stack.settle()
    case = stack.runtime.repository.get_case(answer.body["case_id"])
    stack.runtime.outbox_worker.sender.pacer.hold(case.slack_channel, 24 * 3600)  # Slack asked us to wait
    clock.advance(hours=2)  # unclaimed past its deadline: a nudge in the thread, a DM to Maya
    stack.sweep_deadlines()

    with stack.runtime.database.transaction() as session:
        owed = {row.kind: row for row in session.scalars(select(Delivery).where(Delivery.case_id == case.id))}
    nudge, escalation = owed[DeliveryKind.THREAD_REPLY], owed[DeliveryKind.ESCALATION_DM]
    assert nudge.id < escalation.id  # the waiting nudge comes first, and does not stop the DM
    assert (nudge.status, escalation.status) == (DeliveryStatus.PENDING, DeliveryStatus.SENT)
    assert len(stack.simulator.messages(stack.simulator.dm_channel("U0MAYA").id)) == 1
    assert stack.simulator.thread(case.slack_channel, case.slack_ts)[1:] == []
    assert later.asked[-1][0] == case.id and stack.runtime.outbox_worker.store.problems() == []
