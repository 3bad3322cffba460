"""Helpers for the crash and fault tests: a real `closeloop run` process to start and kill, and a
ledger that reads what the database owes Slack and what the simulated Slack actually shows.

The ledger counts messages by the metadata the bot attaches to them (`closeloop_case` with the
case id on case messages, `closeloop_delivery` with the delivery id on thread replies, shout-outs
and notices), so "posted exactly once" is checked against Slack's side, not the bot's own notes.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.devkit.local_stack import seed_workspace
from bot.devkit.simulator import BOT_USER_ID, Message, SlackSimulator
from bot.domain.vocabulary import DeliveryStatus
from bot.policy_file import load_policy
from storage.db import Database
from storage.models import Case, Delivery, DigestRow, Feedback

EXAMPLE_POLICY = Path(__file__).parent.parent.parent / "bot" / "examples" / "policy.yml"
CASE_EVENT = "closeloop_case"  # bot/slack/case_message.py METADATA_EVENT
DIGEST_EVENT = "closeloop_digest"  # bot/slack/digest_post.py
DELIVERY_EVENT = "closeloop_delivery"  # bot/outbox/sender.py DELIVERY_EVENT

# `closeloop run`, started with its wall clock moved ahead: the process restarted "minutes later"
# without the test waiting minutes. bot.clock.utc_now is patched before bot.wiring binds it.
_RUN_WITH_CLOCK_AHEAD = """
import sys
from datetime import timedelta

import bot.clock

_real = bot.clock.utc_now
_ahead = timedelta(seconds=float(sys.argv[1]))
bot.clock.utc_now = lambda: _real() + _ahead

import bot.wiring

assert bot.wiring.utc_now is bot.clock.utc_now, "bot.wiring was imported before the clock was moved"
from bot.cli import main

sys.exit(main(sys.argv[2:]))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, interval: float = 0.05) -> bool:
    """Poll a condition about another process or thread (start-up, catch-up), bounded.

    Not a deadline wait: time in the bot is moved by clocks, this only waits for work to happen."""
    end = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(interval)


def post_json(url: str, token: str, body: Any, *, timeout: float = 10.0) -> tuple[int | None, Any]:
    """POST JSON like a survey tool; (status, parsed body), or (None, error) when the connection failed."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")
    except (OSError, ValueError, http.client.HTTPException) as error:
        # refused, reset, or cut off by the kill: before the status line (RemoteDisconnected, an
        # OSError) or after it, mid-body (IncompleteRead, an HTTPException). Either way the client
        # cannot know whether the bot stored it, like a survey tool whose request timed out.
        return None, repr(error)


class BotProcess:
    """`closeloop run` as a child process against a simulated Slack; output goes to a file (a pipe
    nobody reads would fill up and stall the bot)."""

    INTAKE_TOKEN = "crash-intake-token-0123456789"

    def __init__(
        self,
        simulator: SlackSimulator,
        database_url: str,
        workdir: Path,
        *,
        name: str,
        clock_ahead_seconds: float = 0.0,
        environment: dict[str, str] | None = None,
    ) -> None:
        self.simulator = simulator
        self.database_url = database_url
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self.clock_ahead_seconds = clock_ahead_seconds
        self.environment = dict(environment or {})  # more variables, e.g. CLOSELOOP_SMTP_URL
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> BotProcess:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CLOSELOOP_"))},
            "SLACK_BOT_TOKEN": self.simulator.bot_token,
            "SLACK_SIGNING_SECRET": self.simulator.signing_secret,
            "SLACK_API_URL": self.simulator.api_url,
            "DATABASE_URL": self.database_url,
            "CLOSELOOP_POLICY": str(EXAMPLE_POLICY),
            "CLOSELOOP_INTAKE_TOKEN": self.INTAKE_TOKEN,
            "PORT": str(self.port),
            **self.environment,
        }
        cli = ["run", "--host", "127.0.0.1"]
        if self.clock_ahead_seconds:
            command = [sys.executable, "-c", _RUN_WITH_CLOCK_AHEAD, str(self.clock_ahead_seconds), *cli]
        else:
            command = [sys.executable, "-m", "bot.cli", *cli]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, env=env, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT
            )
        if not wait_until(self.healthy, timeout=30):
            self.kill()
            raise AssertionError(f"closeloop run did not come up:\n{self.output()}")
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def healthy(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"closeloop run exited with {self.process.returncode}:\n{self.output()}")
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def post_feedback(self, body: Any) -> tuple[int | None, Any]:
        return post_json(f"{self.url}/feedback", self.INTAKE_TOKEN, body)

    def kill(self) -> int | None:
        """SIGKILL: no handler runs, nothing is flushed, leases stay taken."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        return self.process.wait(timeout=30)

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                return self.kill()
        return self.process.returncode

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return ""


def mailing_pair(
    simulator: SlackSimulator, database_url: str, tmp_path: Any, smtp_url: str
) -> tuple[BotProcess, BotProcess]:
    """A bot that mails through `smtp_url`, started, and the one that restarts after it is
    killed (not started), whose clock is an hour on: the dead one's leases have run out for it."""
    seed_workspace(simulator, load_policy(EXAMPLE_POLICY))
    environment = {"CLOSELOOP_SMTP_URL": smtp_url, "CLOSELOOP_MAIL_FROM": "support@acme.example"}
    first = BotProcess(simulator, database_url, tmp_path, name="first", environment=environment).start()
    second = BotProcess(
        simulator, database_url, tmp_path, name="restarted", environment=environment, clock_ahead_seconds=3600
    )
    return first, second


# ---- the ledger: what the database owes, and what Slack shows -----------------------------------


@dataclass(frozen=True)
class CaseRow:
    id: int
    external_id: str
    department: str
    status: str
    owner_id: str | None
    version: int
    message_version: int
    slack_channel: str | None
    slack_ts: str | None
    post_attempts: int
    comment: str | None
    retry_at: datetime | None  # after a failed delivery: not tried again before then


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    kind: str
    case_id: int | None
    feedback_id: int
    event_id: int | None
    status: str
    attempts: int
    slack_channel: str | None
    slack_ts: str | None
    last_error: str | None
    retry_at: datetime | None


def case_rows(database: Database) -> list[CaseRow]:
    with database.transaction() as session:
        rows = session.execute(select(Case, Feedback).join(Feedback, Feedback.id == Case.feedback_id))
        return sorted(
            (
                CaseRow(
                    c.id,
                    f.external_id,
                    c.department,
                    c.status,
                    c.owner_id,
                    c.version,
                    c.message_version,
                    c.slack_channel,
                    c.slack_ts,
                    c.post_attempts,
                    f.comment,
                    c.sync_retry_at,
                )
                for c, f in rows
            ),
            key=lambda row: row.id,
        )


def delivery_rows(database: Database) -> list[DeliveryRow]:
    with database.transaction() as session:
        return [
            DeliveryRow(
                d.id,
                d.kind,
                d.case_id,
                d.feedback_id,
                d.event_id,
                d.status,
                d.attempts,
                d.slack_channel,
                d.slack_ts,
                d.last_error,
                d.retry_at,
            )
            for d in session.scalars(select(Delivery).order_by(Delivery.id))
        ]


def external_ids(database: Database) -> set[str]:
    with database.transaction() as session:
        return set(session.scalars(select(Feedback.external_id)))


def owed(database: Database) -> list[str]:
    """What Slack is still owed (empty when caught up): unposted or out-of-date case messages and
    deliveries not sent. A delivery given up on (`failed`) is owed too: nothing may be dropped.
    (A `skipped` one, a direct message that no longer made sense when it was due, is not.)"""
    problems = [
        f"case #{c.id} message not posted" if c.slack_ts is None else f"case #{c.id} message out of date"
        for c in case_rows(database)
        if c.slack_ts is None or c.message_version < c.version
    ]
    problems += [
        f"delivery {d.id} ({d.kind}) is {d.status}: {d.last_error}"
        for d in delivery_rows(database)
        if d.status in (DeliveryStatus.PENDING, DeliveryStatus.FAILED)
    ]
    return problems


def next_retry(database: Database, after: datetime | None = None) -> datetime | None:
    """The earliest time (later than `after`) the outbox has put off something still owed until
    (a case backs off as a whole, a delivery on its own)."""
    times = [c.retry_at for c in case_rows(database) if c.retry_at is not None]
    times += [
        d.retry_at
        for d in delivery_rows(database)
        if d.retry_at is not None and d.status in (DeliveryStatus.PENDING, DeliveryStatus.FAILED)
    ]
    return min((t for t in times if after is None or t > after), default=None)


def bot_messages(simulator: SlackSimulator, channels: Iterable[str]) -> list[Message]:
    """Every message the bot has in `channels`, thread replies included."""
    found: list[Message] = []
    for channel in channels:
        found += [m for m in simulator.messages(channel, include_replies=True) if m.user == BOT_USER_ID]
    return found


def _payload_id(message: Message, event_type: str, key: str) -> int | None:
    metadata = message.metadata or {}
    if metadata.get("event_type") != event_type:
        return None
    value = (metadata.get("event_payload") or {}).get(key)
    return value if isinstance(value, int) else None


def case_messages(messages: Iterable[Message]) -> dict[int, list[Message]]:
    """Top-level case messages by the case id in their metadata."""
    by_case: dict[int, list[Message]] = defaultdict(list)
    for message in messages:
        case_id = _payload_id(message, CASE_EVENT, "case_id")
        if case_id is not None and not message.is_reply:
            by_case[case_id].append(message)
    return dict(by_case)


def posted_case_ids(simulator: SlackSimulator, channel: str) -> list[int]:
    """Case ids of the top-level case messages in `channel`, in the order Slack received them,
    repeats included (so a double post shows)."""
    return [
        case_id
        for message in simulator.messages(channel)
        if not message.is_reply and (case_id := _payload_id(message, CASE_EVENT, "case_id")) is not None
    ]


def delivery_messages(messages: Iterable[Message]) -> dict[int, list[Message]]:
    """Thread replies, shout-outs and notices by the delivery id in their metadata."""
    by_delivery: dict[int, list[Message]] = defaultdict(list)
    for message in messages:
        delivery_id = _payload_id(message, DELIVERY_EVENT, "delivery_id")
        if delivery_id is not None:
            by_delivery[delivery_id].append(message)
    return dict(by_delivery)


def exactly_once_problems(
    database: Database, simulator: SlackSimulator, channels: Iterable[str]
) -> list[str]:
    """Every case message and every delivery is in Slack exactly once, where the database says;
    and the bot posted nothing that is not one of them."""
    messages = bot_messages(simulator, channels)
    by_case, by_delivery = case_messages(messages), delivery_messages(messages)
    cases, deliveries = case_rows(database), delivery_rows(database)
    problems: list[str] = []
    for case in cases:
        posted = by_case.get(case.id, [])
        if len(posted) != 1:
            problems.append(
                f"case #{case.id} has {len(posted)} messages: {[(m.channel, m.ts) for m in posted]}"
            )
        elif (posted[0].channel, posted[0].ts) != (case.slack_channel, case.slack_ts):
            problems.append(
                f"case #{case.id} is at {(posted[0].channel, posted[0].ts)} in Slack but "
                f"{(case.slack_channel, case.slack_ts)} in the database"
            )
    thread_of = {c.id: (c.slack_channel, c.slack_ts) for c in cases}
    for delivery in deliveries:
        sent = by_delivery.get(delivery.id, [])
        if delivery.status != DeliveryStatus.SENT:
            if sent:
                problems.append(f"delivery {delivery.id} is {delivery.status} but in Slack {len(sent)} times")
            continue
        if len(sent) != 1:
            problems.append(f"delivery {delivery.id} ({delivery.kind}) is in Slack {len(sent)} times")
            continue
        if (sent[0].channel, sent[0].ts) != (delivery.slack_channel, delivery.slack_ts):
            problems.append(f"delivery {delivery.id} is recorded at another message than Slack shows")
        in_thread = (sent[0].channel, sent[0].thread_ts)
        if delivery.kind == "thread_reply" and in_thread != thread_of.get(delivery.case_id or 0):
            problems.append(f"thread reply {delivery.id} is not in case #{delivery.case_id}'s thread")
    known_cases, known_deliveries = {c.id for c in cases}, {d.id for d in deliveries}
    # The weekly digest (the example policy has one): each part carries its row and part in its
    # metadata, so each (row, part) is in Slack at most once. A lead not recorded yet is fine while
    # its row is still being sent (a process killed after posting it; the next one finds it).
    with database.transaction() as session:
        digests = {row.id: row for row in session.scalars(select(DigestRow))}
    digest_parts: dict[tuple[int, str], list[Message]] = defaultdict(list)
    for m in messages:
        digest_id = _payload_id(m, DIGEST_EVENT, "digest_id")
        if digest_id is not None:
            digest_parts[(digest_id, str((m.metadata or {})["event_payload"].get("part")))].append(m)
    for (digest_id, part), posted in sorted(digest_parts.items()):
        row = digests.get(digest_id)
        if row is None:
            problems.append(f"digest part {part} of unknown digest row {digest_id} in Slack")
        elif len(posted) > 1:
            problems.append(f"digest {row.digest} {row.period} part {part} posted {len(posted)} times")
        elif part == "lead" and row.lead_ts != posted[0].ts and (row.lead_ts or row.status == "sent"):
            problems.append(f"digest {row.digest} {row.period}: its lead is recorded at another message")
    digest_threads = {
        (m.channel, m.ts) for (_, part), posted in digest_parts.items() if part == "lead" for m in posted
    }
    strays = [
        (m.channel, m.ts, m.text[:60])
        for m in messages
        if _payload_id(m, CASE_EVENT, "case_id") not in known_cases
        and _payload_id(m, DELIVERY_EVENT, "delivery_id") not in known_deliveries
        and _payload_id(m, DIGEST_EVENT, "digest_id") not in digests
        and (m.channel, m.thread_ts or m.ts) not in digest_threads  # the chart, in the lead's thread
    ]
    if strays:
        problems.append(f"messages that are neither a case nor a delivery: {strays}")
    return problems
