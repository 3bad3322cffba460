"""`closeloop demo`: the whole loop, with no Slack account and nothing configured.

Runs the real bot (HTTP server, Bolt app, outbox, SQLite) against the built-in simulated
workspace: survey responses arrive over HTTP, cases are posted, people click and fill in modals
(as signed Slack requests), and the channels are printed the way a person would read them.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.devkit.local_stack import LocalStack
from bot.devkit.simulator import SlackSimulator
from bot.devkit.simulator.render import render_channel, render_ephemerals
from bot.policy_file import example_policy_path, load_policy
from storage.migrate import upgrade

SAMPLES: list[dict[str, Any]] = [
    {
        "id": "demo-1001",
        "survey": "nps",
        "score": 2,
        "customer": {
            "id": "cus-17",
            "name": "Dana Scully",
            "email": "dana@acme.example",
            "account": "Acme Corp",
            "segment": "enterprise",
            "value": 48000,
        },
        "tags": ["export"],
        "touchpoint": "support",
        "language": "en",
    },
    {
        "id": "demo-1002",
        "survey": "csat",
        "score": 2,
        "comment": "I was double charged on my last invoice & nobody answered my email.",
        "customer": {
            "id": "cus-42",
            "name": "Fox Mulder",
            "email": "fox@example.org",
            "account": "Mulder LLC",
            "segment": "smb",
            "value": 1200,
        },
        "touchpoint": "email",
    },
    {
        "id": "demo-1003",
        "survey": "nps",
        "score": 7,
        "comment": "Solid product. A dark mode would be nice.",
        "customer": {
            "name": "Walter Skinner",
            "account": "FBI Records",
            "segment": "mid-market",
            "value": 9000,
        },
        "tags": ["feature-request"],
    },
    {
        "id": "demo-1004",
        "survey": "nps",
        "score": 10,
        "comment": "Your onboarding team was fantastic!",
        "customer": {"name": "Monica Reyes", "account": "Reyes & Co", "segment": "smb", "value": 2400},
    },
]

# The comment of demo-1001 arrives a few minutes after its score, as surveys do; it also tries to
# ping the whole channel, which closeloop shows as text instead.
LATE_COMMENT = {
    "id": "demo-1001",
    "survey": "nps",
    "score": 2,
    "comment": "CSV export has failed for a week and support never replied. <!channel> is anyone there?",
}


# A Monday morning, always the same one: the story then reads the same on any day (business
# hours and deadlines depend on the weekday) and matches the excerpt in the README.
STORY_START = datetime(2026, 11, 23, 9, 12, tzinfo=UTC)


class StoryClock:
    """The demo's clock: a morning's work in a second. The bot reads it like any clock; the story
    moves it between steps, so shout-outs say '2 h 14 min' rather than 'under a minute'."""

    def __init__(self, start: datetime = STORY_START) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, minutes: float) -> None:
        with self._lock:
            self._now += timedelta(minutes=minutes)


def _step(say: Callable[[str], None], clock: StoryClock, text: str) -> None:
    say(f"  {clock():%H:%M}  {text}")


class Person:
    """Someone in the simulated workspace: clicks and form submissions reach the bot as Slack
    would send them (signed HTTP requests), and each step waits until the bot has finished."""

    def __init__(self, stack: LocalStack, user_id: str) -> None:
        self.stack = stack
        self.user_id = user_id

    def click(self, where: tuple[str, str], action_id: str, *, seen: Any = None) -> None:
        self.stack.slack.click(self.user_id, *where, action_id, message=seen)
        self.stack.settle()

    def fill_in(self, where: tuple[str, str], action_id: str, values: dict[str, str]) -> None:
        self.click(where, action_id)
        (view,) = self.stack.simulator.open_views(self.user_id)
        self.stack.slack.submit_view(self.user_id, view["id"], values)
        self.stack.settle()


def _receive(stack: LocalStack, clock: StoryClock, say: Callable[[str], None]) -> dict[str, tuple[str, str]]:
    """Post the samples; return where each case's message is (channel, ts)."""
    cases: dict[str, int] = {}
    for sample in SAMPLES:
        answer = stack.post_feedback(sample)
        if answer.status != 202:
            raise RuntimeError(f"intake refused {sample['id']}: {answer.status} {answer.body}")
        body = answer.body
        outcome = f", case #{body['case_id']}" if body["case_id"] else ", no case (lighter path)"
        _step(
            say,
            clock,
            f"{sample['survey'].upper()} {sample['score']} from {sample['customer']['name']} → "
            f"{body['category']}, {body['department']}{outcome}",
        )
        if body["case_id"]:
            cases[sample["id"]] = body["case_id"]
        stack.settle()  # posted now, so its message shows the minute the narration says
        clock.advance(1)
    clock.advance(4)
    stack.post_feedback(LATE_COMMENT)
    stack.settle()
    _step(say, clock, "the comment for demo-1001 arrives minutes later: the same case is updated in place")
    where = {}
    for response_id, case_id in cases.items():
        case = stack.runtime.repository.get_case(case_id)
        if not (case.slack_channel and case.slack_ts):
            raise RuntimeError(f"case #{case_id} was not posted")
        where[response_id] = (case.slack_channel, case.slack_ts)
    return where


def _run_story(stack: LocalStack, clock: StoryClock, say: Callable[[str], None]) -> None:
    say("What happens:")
    where = _receive(stack, clock, say)
    alice, bob, omar, priya = (Person(stack, u) for u in ("U0ALICE", "U0BOB", "U0OMAR", "U0PRIYA"))
    acme = where["demo-1001"]
    clock.advance(10)
    stack.sweep_deadlines()  # the scheduler does this every sla.sweep_every
    _step(
        say,
        clock,
        "nobody has claimed the Acme case 18 min in (an enterprise detractor: 15 min to claim) — "
        "its thread asks the support team, and their manager Maya gets a direct message",
    )
    maya = Person(stack, "U0MAYA")
    clock.advance(3)
    dm = stack.simulator.dm_channel("U0MAYA").id
    (escalation,) = stack.simulator.messages(dm)
    maya.click((dm, escalation.ts), "escalation_ack")
    _step(say, clock, "Maya acknowledges from her direct messages")
    clock.advance(18)
    unclaimed = stack.simulator.message(*acme)  # both see the case before either click lands
    alice.click(acme, "case_claim", seen=unclaimed)
    bob.click(acme, "case_claim", seen=unclaimed)
    _step(
        say,
        clock,
        "Alice and Bob click Claim on the Acme case moments apart: Alice gets it, Bob is told privately",
    )
    clock.advance(52)
    alice.fill_in(
        acme, "case_log_contact", {"channel": "phone", "note": "Called Dana; reproduced the export bug."}
    )
    _step(say, clock, "Alice logs a phone call")
    clock.advance(47)
    alice.fill_in(
        acme,
        "case_close",
        {
            "outcome": "resolved",
            "contact_channel": "phone",
            "root_cause": "Product bug",
            "remedy": "Workaround given",
            "customer_informed": "yes",
            "note": "Shared the API export workaround; fix ships Friday and Dana gets a note when it does.",
        },
    )
    _step(say, clock, "Alice closes the loop: resolved, root cause 'Product bug'")
    omar.click(where["demo-1002"], "case_claim")
    _step(say, clock, "Omar claims the billing case")
    clock.advance(26)
    omar.fill_in(
        where["demo-1002"],
        "case_close",
        {
            "outcome": "resolved",
            "contact_channel": "email",
            "root_cause": "Billing error",
            "remedy": "Refund",
            "customer_informed": "yes",
            "note": "Refunded the duplicate charge.",
        },
    )
    _step(say, clock, "Omar closes it with a refund")
    priya.click(where["demo-1003"], "case_claim")
    _step(say, clock, "Priya claims the product case; it stays open")
    _celebrate(stack, clock, say, Person(stack, "U0MAYA"))


# Dana comes back: the same customer, now a promoter, after Alice's follow-up.
TURNAROUND: dict[str, Any] = {
    "id": "demo-1101",
    "survey": "nps",
    "score": 9,
    "comment": "The export fix landed. Thanks for calling me back!",
    "customer": {"id": "cus-17", "name": "Dana Scully", "email": "dana@acme.example", "account": "Acme Corp"},
    "touchpoint": "support",
}


def _celebrate(stack: LocalStack, clock: StoryClock, say: Callable[[str], None], maya: Person) -> None:
    """Kudos and a recognition on Alice's shout-out, then the customer she won back says so."""
    wins = stack.runtime.policy.announcements.channel
    shout = stack.simulator.messages(wins)[0]  # Alice's, the first loop closed today
    clock.advance(5)
    for fan in ("U0BOB", "U0PRIYA"):
        Person(stack, fan).click((wins, shout.ts), "announcement_kudos")
    _step(say, clock, "Bob and Priya give Alice's shout-out kudos")
    maya.fill_in(
        (wins, shout.ts),
        "announcement_recognise",
        {"note": "Turned an angry enterprise customer around in 2 hours."},
    )
    _step(say, clock, "Maya recognises Alice: her note goes in the shout-out's thread and to Alice by DM")
    clock.advance(1)  # the shout-out's kudos and recognitions are one paced edit
    stack.runtime.outbox_queue.request_sweep()
    stack.settle()
    clock.advance(3 * 24 * 60)
    answer = stack.post_feedback(TURNAROUND)
    if answer.status != 202:
        raise RuntimeError(f"intake refused {TURNAROUND['id']}: {answer.status} {answer.body}")
    stack.settle()
    _step(say, clock, "on Thursday, Dana answers NPS 9: the team celebrates a detractor won back")


def run_demo(
    *, database_path: str | None = None, keep: bool = False, say: Callable[[str], None] = print
) -> int:
    policy = load_policy(example_policy_path())
    with tempfile.TemporaryDirectory(prefix="closeloop-demo-") as scratch:
        path = Path(database_path) if database_path else Path(scratch) / "demo.sqlite3"
        url = f"sqlite:///{path}"
        upgrade(url)
        say("closeloop demo — a simulated Slack workspace, the real bot, a SQLite database\n")
        # A roomy burst: the demo clicks far faster than people do.
        clock = StoryClock()
        simulator = SlackSimulator(
            bot_token="xoxb-demo",
            signing_secret="demo-signing-secret",
            clock=lambda: clock().timestamp(),  # Slack's timestamps follow the story's time
            post_burst=50,
        )
        with LocalStack(policy=policy, database_url=url, simulator=simulator, clock=clock) as stack:
            _run_story(stack, clock, say)
            channels = [(d.channel, d.name) for d in policy.departments]
            channels.append((policy.announcements.channel, "closed-loops"))
            for channel, name in channels:
                say(f"\n{'═' * 78}\n#{name}\n{'═' * 78}")
                say(render_channel(simulator, channel))
            say(f"\n{'═' * 78}\nMaya's direct messages from closeloop\n{'═' * 78}")
            say(render_channel(simulator, simulator.dm_channel("U0MAYA").id))
            say(f"\n{'═' * 78}\nOnly Bob sees (ephemeral)\n{'═' * 78}")
            say(render_ephemerals(simulator, "U0BOB"))
            counts = stack.runtime.repository.counts()
            say(
                f"\nDatabase: {counts['feedback']} responses, {counts['cases']} cases, "
                f"{counts['case_events']} history events."
            )
        if keep and not database_path:
            kept = Path.cwd() / "closeloop-demo.sqlite3"
            kept.write_bytes(path.read_bytes())
            say(f"Kept the database as {kept}")
    say("\nNext: create your Slack app from slack-manifest.yml and follow the README.")
    return 0
