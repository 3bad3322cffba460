"""Posting at Slack's pace and reading its refusals: a per-channel token bucket that honours
Retry-After, and the classification that decides retry soon / wait for an admin / give up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.slack.failures import Kind, backoff, classify
from bot.slack.pacing import ChannelPacer, MustWait
from tests.factories import payload


class Time:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


def test_a_burst_goes_at_once_then_one_post_per_second_per_channel():
    time = Time()
    pacer = ChannelPacer(per_second=1, burst=5, clock=time.clock, sleep=time.sleep)
    for _ in range(7):
        pacer.before_post("C1")
    assert time.slept == [1.0, 1.0]
    pacer.before_post("C2")  # another channel has its own pace
    assert time.slept == [1.0, 1.0]


def test_retry_after_holds_the_channel_and_a_long_hold_defers_the_work():
    time = Time()
    pacer = ChannelPacer(clock=time.clock, sleep=time.sleep, max_wait=5)
    pacer.hold("C1", 3)
    pacer.before_post("C1")
    assert time.slept == [3.0]
    pacer.hold("C1", 30)
    with pytest.raises(MustWait) as waited:
        pacer.before_post("C1")
    assert waited.value.seconds == pytest.approx(30)
    pacer.before_post("C2")


def refusal(status: int, error: str, headers: dict[str, str] | None = None) -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.test/api/chat.postMessage",
        req_args={},
        data={"ok": False, "error": error},
        headers=headers or {},
        status_code=status,
    )
    return SlackApiError("refused", response)


def test_slacks_refusals_are_sorted_into_what_to_do():
    limited = classify(refusal(429, "ratelimited", {"Retry-After": "7"}), "C1")
    assert (limited.kind, limited.retry_after) == (Kind.TRANSIENT, 7.0)
    assert classify(refusal(503, "service_unavailable"), "C1").kind == Kind.TRANSIENT
    assert classify(ConnectionResetError(), "C1").kind == Kind.TRANSIENT
    stuck = classify(refusal(200, "not_in_channel"), "C0SUPPORT")
    assert stuck.kind == Kind.NEEDS_ADMIN and "/invite @closeloop` in <#C0SUPPORT>" in stuck.reason
    assert classify(refusal(200, "msg_too_long"), "C1").kind == Kind.OTHER
    assert [backoff(n) for n in (1, 2, 3, 10)] == [
        timedelta(seconds=15),
        timedelta(seconds=30),
        timedelta(seconds=60),
        timedelta(minutes=15),
    ]


def test_a_429_holds_the_channel_until_retry_after_has_passed(stack, clock):
    stack.simulator.inject_fault("chat.postMessage", status=429, times=1)  # Retry-After: 1
    first = stack.post_feedback(payload(id="limited"))
    stack.settle()
    assert stack.simulator.messages("C0SUPPORT") == []
    stack.post_feedback(payload(id="next"))  # same channel, still held: not even tried
    stack.settle()
    assert len(stack.simulator.calls_to("chat.postMessage")) == 1
    clock.advance(seconds=2)
    stack.runtime.queue.request_sweep()
    stack.settle()
    posted = sorted(m.metadata["event_payload"]["case_id"] for m in stack.simulator.messages("C0SUPPORT"))
    assert posted == [first.body["case_id"], first.body["case_id"] + 1]
