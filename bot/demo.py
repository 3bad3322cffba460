"""`closeloop demo`: the whole loop, with no Slack account and nothing configured.

Runs the real bot (HTTP server, Bolt app, publisher, SQLite) against the built-in simulated
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

from bot.local_stack import LocalStack
from bot.policy import example_policy_path, load_policy
from bot.simulator import SlackSimulator
from bot.simulator.render import render_channel, render_ephemerals
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


class StoryClock:
    """The demo's clock: a morning's work in a second. The bot reads it like any clock; the story
    moves it between steps, so shout-outs say '2 h 14 min' rather than 'under a minute'."""

    def __init__(self) -> None:
        today = datetime.now(UTC).replace(hour=9, minute=12, second=0, microsecond=0)
        self._now = today
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, minutes: float) -> None:
        with self._lock:
            self._now += timedelta(minutes=minutes)


def _step(say: Callable[[str], None], clock: StoryClock, text: str) -> None:
    say(f"  {clock():%H:%M}  {text}")


def _run_story(stack: LocalStack, clock: StoryClock, say: Callable[[str], None]) -> dict[str, int]:
    sim, slack = stack.simulator, stack.slack
    cases: dict[str, int] = {}
    say("What happens:")
    for sample in SAMPLES:
        answer = stack.post_feedback(sample)
        if answer.status != 202:
            raise RuntimeError(f"intake refused {sample['id']}: {answer.status} {answer.body}")
        body = answer.body
        if body["case_id"]:
            cases[sample["id"]] = body["case_id"]
        _step(
            say,
            clock,
            f"{sample['survey'].upper()} {sample['score']} from {sample['customer']['name']} → "
            f"{body['category']}, {body['department']}"
            + (f", case #{body['case_id']}" if body["case_id"] else ", no case (lighter path)"),
        )
        clock.advance(1)
    stack.settle()
    clock.advance(4)
    stack.post_feedback(LATE_COMMENT)
    _step(say, clock, "the comment for demo-1001 arrives minutes later: the same case is updated in place")
    stack.settle()

    def case_ts(case_id: int) -> tuple[str, str]:
        case = stack.runtime.services.repository.get_case(case_id)
        assert case.slack_channel and case.slack_ts, f"case #{case_id} was not posted"
        return case.slack_channel, case.slack_ts

    support = case_ts(cases["demo-1001"])
    clock.advance(31)
    for user in ("U0ALICE", "U0BOB"):
        slack.click(user, *support, "case_claim")
    stack.settle()
    _step(say, clock, "Alice and Bob both click Claim on the Acme case: Alice gets it, Bob is told privately")
    clock.advance(52)
    slack.click("U0ALICE", *support, "case_log_contact")
    stack.settle()
    (view,) = sim.open_views("U0ALICE")
    slack.submit_view(
        "U0ALICE", view["id"], {"channel": "phone", "note": "Called Dana; reproduced the export bug."}
    )
    stack.settle()
    _step(say, clock, "Alice logs a phone call")
    clock.advance(47)
    slack.click("U0ALICE", *support, "case_close")
    stack.settle()
    (view,) = sim.open_views("U0ALICE")
    slack.submit_view(
        "U0ALICE",
        view["id"],
        {
            "outcome": "resolved",
            "contact_channel": "phone",
            "root_cause": "Product bug",
            "remedy": "Workaround given",
            "customer_informed": "yes",
            "note": "Shared the API export workaround; fix ships Friday and Dana gets a note when it does.",
        },
    )
    stack.settle()
    _step(say, clock, "Alice closes the loop: resolved, root cause 'Product bug'")

    billing = case_ts(cases["demo-1002"])
    slack.click("U0OMAR", *billing, "case_claim")
    stack.settle()
    clock.advance(26)
    slack.click("U0OMAR", *billing, "case_close")
    stack.settle()
    (view,) = sim.open_views("U0OMAR")
    slack.submit_view(
        "U0OMAR",
        view["id"],
        {
            "outcome": "resolved",
            "contact_channel": "email",
            "root_cause": "Billing error",
            "remedy": "Refund",
            "customer_informed": "yes",
            "note": "Refunded the duplicate charge.",
        },
    )
    stack.settle()
    _step(say, clock, "Omar claims the billing case and closes it with a refund")
    product = case_ts(cases["demo-1003"])
    slack.click("U0PRIYA", *product, "case_claim")
    stack.settle()
    _step(say, clock, "Priya claims the product case; it stays open")
    return cases


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
        simulator = SlackSimulator(bot_token="xoxb-demo", signing_secret="demo-signing-secret", post_burst=50)
        clock = StoryClock()
        with LocalStack(policy=policy, database_url=url, simulator=simulator, clock=clock) as stack:
            _run_story(stack, clock, say)
            channels = [(d.channel, d.name) for d in policy.departments]
            channels.append((policy.announcements.channel, "closed-loops"))
            for channel, name in channels:
                say(f"\n{'═' * 78}\n#{name}\n{'═' * 78}")
                say(render_channel(simulator, channel))
            say(f"\n{'═' * 78}\nOnly Bob sees (ephemeral)\n{'═' * 78}")
            say(render_ephemerals(simulator, "U0BOB"))
            counts = stack.runtime.services.repository.counts()
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
