"""The click path: a click is acked in its own request thread, before its work, and the work of
early-acked clicks waits for the acks still being answered (bot/ack_first.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from bot.ack_first import AckFirst, AckFirstExecutor, ack_now
from bot.wiring import LISTENER_THREADS
from tests.support.steps import open_case


class FakeAck:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


def test_a_click_is_acked_while_every_listener_thread_is_busy(stack):
    """Bolt's own way waits for a free listener thread to call ack(): with all of them busy (slow
    Slack calls, a burst of clicks), Slack's 3-second deadline passed."""
    case = open_case(stack)
    release = threading.Event()
    busy = [stack.runtime.listeners.submit(release.wait, 30) for _ in range(LISTENER_THREADS)]
    try:
        answer = stack.slack.click("U0ALICE", case.slack_channel, case.slack_ts, "case_claim")
        assert answer.ok and not answer.timed_out, answer
        assert stack.runtime.repository.get_case(case.id).owner_id is None  # the work is queued
    finally:
        release.set()
    for future in busy:
        future.result(timeout=10)
    stack.settle()
    assert stack.runtime.repository.get_case(case.id).owner_id == "U0ALICE"


def answering(gate: AckFirst) -> tuple[threading.Event, threading.Thread]:
    """A Slack request being answered until the returned event is set."""
    done, inside = threading.Event(), threading.Event()

    def app(_environ: dict[str, Any], _start: Callable[..., Any]) -> Iterable[bytes]:
        inside.set()
        done.wait(30)
        return [b""]

    thread = threading.Thread(target=gate.wsgi(app), args=({"PATH_INFO": "/slack/events"}, None))
    thread.start()
    assert inside.wait(10)
    return done, thread


def submit_acked_early(executor: AckFirstExecutor, work: Callable[[], None]) -> None:
    """What Bolt does in a click's request thread: the listener middleware, then the submit."""
    ack = FakeAck()
    ack_now(ack, lambda: None)
    assert ack.calls == 1
    executor.submit(work)


def test_early_acked_work_waits_for_the_acks_being_answered_and_other_work_does_not():
    gate = AckFirst(max_wait=30)
    executor = AckFirstExecutor(gate, 2, thread_name_prefix="test-listener")
    try:
        done, request = answering(gate)
        clicked, submitted = threading.Event(), threading.Event()
        submit_acked_early(executor, clicked.set)
        executor.submit(submitted.set)  # a listener that acks itself (a form, a command)
        assert submitted.wait(10)
        assert not clicked.wait(0.2) and gate.answering == 1
        done.set()
        request.join(10)
        assert clicked.wait(10)
    finally:
        executor.shutdown(wait=True)


def test_early_acked_work_waits_no_longer_than_max_wait():
    gate = AckFirst(max_wait=0.05)
    executor = AckFirstExecutor(gate, 1, thread_name_prefix="test-listener")
    done, request = answering(gate)
    try:
        clicked = threading.Event()
        submit_acked_early(executor, clicked.set)
        assert clicked.wait(10) and gate.answering == 1  # started although a request is in flight
    finally:
        done.set()
        request.join(10)
        executor.shutdown(wait=True)
