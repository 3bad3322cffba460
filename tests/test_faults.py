"""Slack misbehaving while work pours in: rate limits (with Retry-After), 500s before and after
Slack applied the call, slow answers, answers that come after the bot gave up, and Slack down
for a while and back. Through all of it: no response is lost, every case message is posted once,
every thread reply is sent once per event, and each message ends up showing its case's state.

Everything goes through the real stack: intake over HTTP, signed clicks and modal submissions to
/slack/events, the outbox talking to the simulated Slack over HTTP. The outbox's catch-up is
driven by requesting sweeps and waiting for them (`settle`), and the clock is moved so the
simulator's rate limit (5 posts per channel, then 1 a second) lets posts through again.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bot.devkit.simulator.stored_blocks import with_slack_ids
from bot.domain.deadlines import next_deadline
from bot.slack.case_message import case_message
from tests.factories import CLOSE_FORM, payload
from tests.support.crash_helpers import (
    bot_messages,
    case_messages,
    case_rows,
    delivery_rows,
    exactly_once_problems,
    external_ids,
    next_retry,
    owed,
    wait_until,
)

CHANNELS = ("C0SUPPORT", "C0BILLING", "C0PRODUCT", "C0WINS")
STAFF = ("U0ALICE", "U0BOB", "U0CAROL")
CLOSING = {**CLOSE_FORM, "note": "Called back, sorted."}
# Thread replies by the event they report (bot/slack/notices.py thread_reply).
REPLY_PREFIX = {
    "claimed": "👤 ",
    "released": "↩️ ",
    "feedback_updated": "✏️ The survey tool sent an update",
    "closed": "✅ ",
    "contact_logged": "📞 ",
}


def sweep(stack) -> None:
    stack.runtime.outbox_queue.request_sweep()
    stack.settle()


def retry_when_due(stack, clock) -> None:
    """Move the clock to when the outbox said it would retry (after a failure it backs off),
    plus a second for the simulator's rate limit to let one more post through; then sweep."""
    due = next_retry(stack.runtime.database, after=clock())
    wait = max((due - clock()).total_seconds(), 0.0) if due is not None else 0.0
    clock.advance(seconds=wait + 1)
    sweep(stack)


def catch_up(stack, clock, rounds: int = 100) -> int:
    """Sweep, moving the clock to each retry, until nothing is owed; fail if Slack never is caught up."""
    database = stack.runtime.database
    for done in range(rounds):
        if not owed(database):
            return done
        retry_when_due(stack, clock)
    assert owed(database) == [], "Slack was never caught up"
    return rounds


KINDS = [  # (what else the response says, its comment, the comment of its update)
    ({}, "Charged twice, refund please.", "Refund missing."),  # billing
    ({}, "Export fails.", "Still failing today."),  # support
    ({"tags": ["bug"]}, "Crashes on save.", "Still broken."),  # product
    ({"score": 10}, "Love it.", "Thanks again!"),  # a promoter: a notice, no case
    ({"score": 7}, "It's fine.", "Slow, still."),  # a passive
]


def response(number: int, *, update: bool = False) -> dict[str, Any]:
    """Cases in three departments, passives and promoters. An update sends the same id with a new
    comment that keeps the case in its department. Small customers: no case gets the 15-minute
    claim deadline, so moving the clock through back-offs passes no deadline."""
    extra, first, later = KINDS[number % len(KINDS)]
    customer = {"id": f"cus-{number}", "name": f"Customer {number}", "segment": "smb", "value": 1200}
    return payload(id=f"rush-{number}", customer=customer, comment=later if update else first, **extra)


def post_all(stack, bodies: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Any]]:
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(stack.post_feedback, bodies))
    assert [a.status for a in answers] == [202] * len(bodies), [a.body for a in answers if a.status != 202]
    return list(zip(bodies, answers, strict=True))


def top_message(stack, case):
    return stack.simulator.message(case.slack_channel, case.slack_ts)


def check_slack_matches_the_database(stack, clock, accepted) -> None:
    database, repository = stack.runtime.database, stack.runtime.repository
    # Nothing acknowledged is lost: each 202 is a case, or (a promoter) a notice sent.
    stored = external_ids(database)
    assert [b["id"] for b, _ in accepted if b["id"] not in stored] == []
    deliveries = delivery_rows(database)
    notices = {d.feedback_id for d in deliveries if d.kind == "notice"}
    for body, answer in accepted:
        if answer.body["case_id"] is None:
            assert answer.body["feedback_id"] in notices, body["id"]
        else:
            assert repository.find_case(answer.body["case_id"]) is not None, body["id"]
    assert owed(database) == []
    assert exactly_once_problems(database, stack.simulator, CHANNELS) == []
    policy = stack.runtime.policy
    closed_total = 0
    for row in case_rows(database):
        case = repository.get_case(row.id)
        # One thread reply per event that owes one, counted by what the replies say.
        history = Counter(event.kind for event in repository.history(case.id))
        replies = [m.text for m in stack.simulator.thread(case.slack_channel, case.slack_ts)[1:]]
        for kind, prefix in REPLY_PREFIX.items():
            said = sum(text.startswith(prefix) for text in replies)
            assert said == history[kind], (case.id, kind, replies)
        closed_total += history["closed"]
        # The message shows the case as the database has it now. (Fair only while no deadline
        # passed since the last render: nothing here runs the deadline sweep that re-renders.)
        upcoming = next_deadline(case, clock())
        assert upcoming is None or not upcoming.overdue, (
            f"the test moved the clock past case #{case.id}'s deadline"
        )
        expected = case_message(case, policy, clock())
        shown = top_message(stack, case)
        assert (shown.text, shown.blocks) == (expected.text, with_slack_ids(expected.blocks)), case.id
    assert len(stack.simulator.messages("C0WINS")) == closed_total


def close_through_the_modal(stack, user: str, case) -> None:
    assert stack.slack.click(user, case.slack_channel, case.slack_ts, "case_close").ok
    stack.settle()
    (view,) = stack.simulator.open_views(user)
    assert stack.slack.submit_view(user, view["id"], CLOSING).ok
    stack.settle()


@pytest.mark.backends("sqlite", "postgresql")  # concurrent intake and clicks, racing in the database
def test_a_rush_through_flaky_slack_and_an_outage_loses_nothing_and_doubles_nothing(stack, clock):
    simulator, repository = stack.simulator, stack.runtime.repository

    # 1. Twenty-five responses arrive at once while Slack limits, refuses, stalls and loses answers.
    simulator.inject_fault("chat.postMessage", status=429, times=2)  # Retry-After: 1
    simulator.inject_fault("chat.postMessage", status=500, times=2)  # refused
    simulator.inject_fault("chat.postMessage", delay_seconds=0.2, times=2)  # slow, then posted
    simulator.inject_fault("chat.postMessage", status=500, applied=True, times=3)  # posted, answer lost
    simulator.inject_fault("chat.postMessage", error="service_unavailable", times=1)
    accepted = post_all(stack, [response(n) for n in range(25)])
    stack.settle()
    assert owed(stack.runtime.database), "Slack's trouble held nothing back: the faults did not bite"
    catch_up(stack, clock)

    # 2. People claim every case (two at once on each), while survey tools send updates, and Slack
    # fails updates and thread replies in every way again.
    simulator.inject_fault("chat.update", status=500, applied=True, times=2)
    simulator.inject_fault("chat.update", status=429, times=2)
    simulator.inject_fault("chat.update", delay_seconds=0.2, times=2)
    simulator.inject_fault("chat.postMessage", status=500, applied=True, times=3)
    simulator.inject_fault("chat.postMessage", status=429, times=2)
    cases = [repository.get_case(row.id) for row in case_rows(stack.runtime.database)]
    seen = {case.id: top_message(stack, case) for case in cases}
    start = threading.Barrier(2)

    def claim(job: tuple[str, Any]) -> int:
        user, case = job
        start.wait(timeout=10)
        return stack.slack.click(
            user, case.slack_channel, case.slack_ts, "case_claim", message=seen[case.id]
        ).status

    for case in cases:
        with ThreadPoolExecutor(2) as pool:
            assert list(pool.map(claim, [("U0ALICE", case), ("U0BOB", case)])) == [200, 200]
    accepted += post_all(stack, [response(n, update=True) for n in range(0, 25, 3)])
    stack.settle()
    catch_up(stack, clock)
    assert all(repository.get_case(c.id).owner_id in ("U0ALICE", "U0BOB") for c in cases)

    # 3. Slack is down: the next 40 calls fail, whatever they are. Work goes on meanwhile.
    outage = 40
    simulator.inject_fault("*", status=503, times=outage)
    for case in cases[:4]:
        owner = repository.get_case(case.id).owner_id
        assert stack.slack.click(owner, case.slack_channel, case.slack_ts, "case_release").ok
    accepted += post_all(stack, [response(n) for n in range(25, 31)])
    accepted += post_all(stack, [response(n, update=True) for n in range(1, 25, 6)])
    stack.settle()
    for _ in range(2):  # retries while it is down change nothing in Slack
        retry_when_due(stack, clock)
    assert owed(stack.runtime.database)

    # ... and back: everything owed goes out once, and the loop can be closed again.
    catch_up(stack, clock)
    assert Counter(c.http_status for c in simulator.calls)[503] == outage, "Slack never came back"
    released = repository.get_case(cases[0].id)
    close_through_the_modal(stack, "U0ALICE", released)
    catch_up(stack, clock)

    statuses = Counter(c.http_status for c in simulator.calls)
    assert statuses[500] == 2 + 3 + 2 + 3 and statuses[429] >= 2 + 2 + 2, statuses
    check_slack_matches_the_database(stack, clock, accepted)


def test_sends_that_time_out_but_land_are_found_not_repeated(stack, clock):
    """The bot gives up waiting (its client timeout) while Slack still applies the call."""
    stack.runtime.outbox_worker.sender.client.timeout = 0.2
    simulator = stack.simulator

    def landed(method: str, count: int) -> None:  # Slack finishes the stalled call on its own time
        assert wait_until(lambda: len(simulator.calls_to(method)) >= count, timeout=10)

    simulator.inject_fault("chat.postMessage", delay_seconds=0.4)
    answer = stack.post_feedback(payload())
    stack.settle()
    case = stack.runtime.repository.get_case(answer.body["case_id"])
    assert case.slack_ts is None and case.post_attempts == 1
    landed("chat.postMessage", 1)
    retry_when_due(stack, clock)
    case = stack.runtime.repository.get_case(case.id)
    assert case.slack_ts is not None

    simulator.inject_fault("chat.update", delay_seconds=0.4)
    simulator.inject_fault("chat.postMessage", delay_seconds=0.4)
    assert stack.slack.click("U0ALICE", case.slack_channel, case.slack_ts, "case_claim").ok
    stack.settle()
    landed("chat.update", 1)
    retry_when_due(stack, clock)  # the update again (harmless), then the thread reply, which stalls too
    landed("chat.postMessage", 2)
    catch_up(stack, clock)
    accepted = [(payload(), answer)]
    check_slack_matches_the_database(stack, clock, accepted)
    assert [m.text for m in simulator.thread(case.slack_channel, case.slack_ts)[1:]] == [
        "👤 <@U0ALICE> claimed this case."
    ]


@pytest.mark.parametrize("change", ["survey tool sends the comment", "someone claims it"])
def test_a_change_before_an_uncertain_post_is_confirmed_still_reaches_the_message(stack, clock, change):
    """Slack posts the case message but the answer is lost (500 after applying). Before the bot
    confirms the post, the case changes: the comment arrives a minute later (survey tools send the
    score first), or someone clicks Claim on the message they can already see. The message must
    end up showing the change."""
    stack.simulator.inject_fault("chat.postMessage", status=500, applied=True, times=1)
    answer = stack.post_feedback(payload(comment=None))
    stack.settle()
    case = stack.runtime.repository.get_case(answer.body["case_id"])
    assert case.slack_ts is None and case.post_attempts == 1
    (posted,) = case_messages(bot_messages(stack.simulator, CHANNELS))[case.id]
    clock.advance(minutes=1)
    if change == "someone claims it":
        assert stack.slack.click("U0ALICE", posted.channel, posted.ts, "case_claim").ok
        accepted = [(payload(comment=None), answer)]
    else:
        later = payload(comment="The export broke again.")
        accepted = [(payload(comment=None), answer), (later, stack.post_feedback(later))]
    stack.settle()
    catch_up(stack, clock)
    check_slack_matches_the_database(stack, clock, accepted)


def test_an_uncertain_post_in_a_busy_channel_is_not_posted_twice(stack, clock):
    """The answer to a case post is lost; before the retry, the channel moves on (people talk in
    it). The retry must still find the post rather than send a second one."""
    stack.simulator.inject_fault("chat.postMessage", status=500, applied=True, times=1)
    answer = stack.post_feedback(payload())
    stack.settle()
    for number in range(201):
        stack.simulator.workspace.post("C0SUPPORT", STAFF[number % 3], f"chatter {number}")
    retry_when_due(stack, clock)
    posted = case_messages(bot_messages(stack.simulator, CHANNELS))
    assert len(posted[answer.body["case_id"]]) == 1
