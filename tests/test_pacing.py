"""Posting at Slack's pace and reading its refusals: a per-channel token bucket that honours
Retry-After, and the classification that decides retry soon / wait for an admin / give up."""

from __future__ import annotations

from datetime import timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.outbox.failures import Kind, backoff, classify
from bot.outbox.pacing import ChannelPacer, MustWait
from tests.factories import payload


class Time:
    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now


def waits(pacer: ChannelPacer, channel: str, keys: list[str]) -> list[float | None]:
    """For each key in turn: None when it may post now, else the seconds until its slot."""
    result: list[float | None] = []
    for key in keys:
        try:
            pacer.before_post(channel, key)
            result.append(None)
        except MustWait as wait:
            result.append(round(wait.seconds, 3))
    return result


def test_a_burst_goes_at_once_then_each_later_post_gets_the_next_one_second_slot():
    time = Time()
    pacer = ChannelPacer(per_second=1, burst=5, clock=time.clock)
    keys = [f"case:{n}" for n in range(8)]
    assert waits(pacer, "C1", keys) == [None] * 5 + [1.0, 2.0, 3.0]
    assert waits(pacer, "C2", ["case:99"]) == [None]  # another channel has its own pace


def test_a_booked_slot_is_kept_and_taken_when_its_caller_comes_back():
    time = Time()
    pacer = ChannelPacer(per_second=1, burst=1, clock=time.clock)
    assert waits(pacer, "C1", ["a", "b", "c"]) == [None, 1.0, 2.0]
    time.now += 0.5
    assert waits(pacer, "C1", ["b"]) == [0.5]  # too early: same slot, not a new one
    time.now += 0.5
    assert waits(pacer, "C1", ["b"]) == [None]
    assert waits(pacer, "C1", ["d"]) == [2.0]  # behind c, which is still booked
    time.now += 1
    assert waits(pacer, "C1", ["c"]) == [None]  # c was not overtaken


def test_a_post_that_reached_slack_late_moves_the_later_slots_with_it():
    """Slack counts a post when it arrives: if the first of a burst took 0.4 s to get there (a
    slow database write before it), the post after the burst must not come 0.4 s early."""
    time = Time()
    pacer = ChannelPacer(per_second=1, burst=2, clock=time.clock)
    assert waits(pacer, "C1", ["first"]) == [None]
    time.now += 0.4
    pacer.posted("C1")
    assert waits(pacer, "C1", ["second", "third"]) == [None, 1.0]  # 1.4 s after the first was asked


def test_slots_nobody_came_back_for_are_forgotten():
    time = Time()
    pacer = ChannelPacer(per_second=1, burst=1, clock=time.clock)
    waits(pacer, "C1", ["a", "abandoned"])
    time.now += 120
    assert waits(pacer, "C1", ["abandoned", "next"]) == [None, 1.0]  # asks afresh; burst refilled


def test_callers_back_late_for_their_slots_never_add_up_to_more_than_a_burst():
    """The worker was busy (a slow Slack call): five booked posts come back ten seconds late,
    together with five new ones. Slack would allow a burst of five then, not ten."""
    time = Time()
    pacer = ChannelPacer(per_second=1, burst=5, clock=time.clock)

    def go(keys: list[str]) -> list[float | None]:
        result = waits(pacer, "C1", keys)
        for wait in result:
            if wait is None:
                pacer.posted("C1")
        return result

    booked = [f"b{n}" for n in range(5)]
    assert go([f"a{n}" for n in range(5)] + booked) == [None] * 5 + [1.0, 2.0, 3.0, 4.0, 5.0]
    time.now += 10
    assert go(booked) == [None] * 5  # a burst's worth after a quiet spell
    assert go([f"n{n}" for n in range(5)]) == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_retry_after_holds_the_channel_then_the_waiting_posts_go_first_one_per_second():
    time = Time()
    pacer = ChannelPacer(per_second=1, burst=5, clock=time.clock)
    waits(pacer, "C1", [f"k{n}" for n in range(7)])  # k5 and k6 booked slots at +1 s and +2 s
    pacer.hold("C1", 30, first="k4")  # k4's post was the one Slack refused
    assert waits(pacer, "C1", ["new", "k6", "k5", "k4"]) == [33.0, 32.0, 31.0, 30.0]
    assert waits(pacer, "C2", ["other"]) == [None]
    time.now += 30
    assert waits(pacer, "C1", ["new", "k5", "k4"]) == [3.0, 1.0, None]  # no burst after a 429
    time.now += 1
    assert waits(pacer, "C1", ["k5", "k6"]) == [None, 1.0]


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
    stack.runtime.outbox_queue.request_sweep()
    stack.settle()
    posted = sorted(m.metadata["event_payload"]["case_id"] for m in stack.simulator.messages("C0SUPPORT"))
    assert posted == [first.body["case_id"], first.body["case_id"] + 1]


def edits(pacer: ChannelPacer, count: int, *, urgent: bool) -> list[float | None]:
    result: list[float | None] = []
    for _ in range(count):
        try:
            pacer.before_edit(urgent=urgent)
            result.append(None)
        except MustWait as wait:
            result.append(round(wait.seconds, 3))
    return result


def test_edits_are_paced_for_the_whole_workspace_and_keep_a_reserve_for_clicks():
    """chat.update is Tier 3 (about 50 a minute per workspace, whatever the channel): background
    edits use the burst up to the click reserve; a click's edit still goes at once."""
    time = Time()
    pacer = ChannelPacer(clock=time.clock, edits_per_minute=60, edit_burst=10, click_reserve=3)
    assert edits(pacer, 8, urgent=False) == [None] * 7 + [1.0]  # 7 of 10, then one a second
    assert edits(pacer, 3, urgent=True) == [None] * 3  # the reserve is the clicks'
    assert edits(pacer, 1, urgent=True) == [1.0]  # the burst is spent: even a click waits
    time.now += 1.0
    assert edits(pacer, 1, urgent=True) == [None]
    assert edits(pacer, 1, urgent=False) == [4.0]  # background waits until the reserve is back


def test_a_429_on_an_edit_holds_all_edits_then_lets_them_go_one_per_interval():
    time = Time()
    pacer = ChannelPacer(clock=time.clock, edits_per_minute=60, edit_burst=10, click_reserve=3)
    pacer.hold_edits(5)
    assert edits(pacer, 1, urgent=True) == [5.0]
    time.now += 5
    assert edits(pacer, 2, urgent=True) == [None, 1.0]


def test_ready_books_the_slot_that_the_post_then_takes_without_counting_it_twice():
    time = Time()
    pacer = ChannelPacer(per_second=1, burst=2, clock=time.clock)
    assert [pacer.ready("C1", f"case:{n}") for n in range(4)] == [0.0, 0.0, 1.0, 2.0]
    assert pacer.ready("C1", "case:2") == 1.0  # asking again keeps its slot
    assert waits(pacer, "C1", ["case:0", "case:1", "case:2"]) == [None, None, 1.0]
    time.now += 1.0
    assert waits(pacer, "C1", ["case:2"]) == [None]
    assert pacer.ready("C2", "case:9") == 0.0  # other channels are not affected
