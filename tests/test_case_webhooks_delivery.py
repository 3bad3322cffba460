"""Outbound case events against a real receiver, on SQLite and PostgreSQL: the rows each case
change owes (in its own transaction), delivery at least once and in order per case through
dropped connections and 500s, a crash between sending and recording, backoff on a moved clock,
giving up, and several senders at once never sending one row twice."""

from __future__ import annotations

import base64
import json
import secrets
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from bot.app.deadline_sweep import DeadlineSweeper
from bot.check import run_check
from bot.domain.deadlines import SlaPlanner
from bot.domain.policy import Policy
from bot.domain.records import CloseDetails
from bot.metrics import Metrics
from bot.outbox.webhooks import CaseWebhookSender
from bot.policy_file import parse_policy
from bot.settings import load_settings
from storage.case_webhooks import CaseEventMirror, CaseWebhookStore
from storage.db import Database
from storage.deadline_store import DeadlineStore
from storage.models import CaseWebhookEvent
from storage.repository import Repository
from storage.snapshots import snapshot
from tests.factories import feedback_and_triage
from tests.support.clock import FakeClock
from tests.support.race import race
from tests.support.webhook_receiver import Chaos, WebhookReceiver

pytestmark = pytest.mark.backends("sqlite", "postgresql")

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
CLOSE = CloseDetails("resolved", "phone", "Product bug", "Workaround given", "Called back.", True)


class CrashAfterSending(CaseWebhookStore):
    """The process dies after the receiver answered and before the row is marked sent."""

    def mark_sent(self, row_id: int, now: datetime) -> None:
        raise SystemExit("killed between sending and recording")


class World:
    """The storage and sender of one process, on a policy whose webhooks point at `receiver`."""

    def __init__(self, database: Database, policy: Policy, clock: FakeClock) -> None:
        self.database = database
        self.policy = policy
        self.clock = clock
        self.mirror = CaseEventMirror(policy.webhooks)
        self.repository = Repository(database, SlaPlanner(policy), self.mirror)
        self.deadlines = DeadlineStore(database, snapshot, self.mirror)
        self.store = CaseWebhookStore(database)

    def sender(self, store: CaseWebhookStore | None = None, **options: Any) -> CaseWebhookSender:
        return CaseWebhookSender(
            store=store or self.store,
            webhooks=self.policy.webhooks,
            secrets={w.key: SECRET for w in self.policy.webhooks},
            clock=self.clock,
            **options,
        )

    def open(self, n: int, **overrides: Any) -> int:
        data, decide = feedback_and_triage(self.policy, id=f"resp-{n}", **overrides)
        case_id = self.repository.record_feedback(data, decide, self.clock()).case_id
        assert case_id is not None
        return case_id

    def types(self, case_id: int) -> list[str]:
        return [row["event_type"] for row in self.store.calls(case_id)]

    def expected(self) -> dict[int, list[str]]:
        lanes: dict[int, list[str]] = {}
        for row in self.store.calls():
            lanes.setdefault(row["case_id"], []).append(row["event_id"])
        return lanes

    def pending(self) -> int:
        return sum(1 for row in self.store.calls() if row["status"] == "pending")


def webhook_policy(raw_policy: dict, *hooks: dict[str, Any]) -> Policy:
    raw_policy["webhooks"] = list(hooks)
    return parse_policy(raw_policy, "policy.yml")


def hook(url: str, **overrides: Any) -> dict[str, Any]:
    return {"url": url, "secret_env": "CRM_SECRET", "first_retry": "1s", "max_retry": "2s", **overrides}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as running:
        yield running


@pytest.fixture
def now_clock() -> FakeClock:
    """Real time to start with: the library's verify refuses a timestamp five minutes off."""
    return FakeClock(datetime.now(UTC))


def test_every_change_owes_its_event_in_its_own_transaction(database, raw_policy, now_clock):
    policy = webhook_policy(
        raw_policy,
        hook("https://crm.example.com/all", name="crm"),
        hook("https://billing.example.com/x", name="billing-only", departments=["billing"]),
        hook("https://closes.example.com/x", name="closes", events=["case.closed"]),
    )
    world = World(database, policy, now_clock)
    case_id = world.open(1, comment="Export broken <!channel> & <@U123> " + "x" * 9_000)
    repo = world.repository
    assert repo.claim(case_id, "U0ALICE", now_clock()).applied
    assert not repo.claim(case_id, "U0BOB", now_clock()).applied  # lost: no event, no row
    assert repo.log_contact(case_id, "U0ALICE", "phone", "Left a voicemail", now_clock()).applied
    assert repo.reassign(
        case_id, "U0ALICE", "U0BOB", now_clock(), expected_owner="U0ALICE", reason="On leave"
    ).applied
    assert repo.close(case_id, "U0BOB", CLOSE, now_clock(), expected_owner="U0BOB").applied
    assert repo.reopen(case_id, "U0BOB", now_clock(), expected_owner="U0BOB").applied
    rows = world.store.calls(case_id)
    crm = [r["event_type"] for r in rows if r["receiver"] == "crm"]
    assert crm == [
        "case.opened",
        "case.claimed",
        "case.contacted",
        "case.handed_over",
        "case.closed",
        "case.reopened",
    ]
    assert [r["event_type"] for r in rows if r["receiver"] == "closes"] == ["case.closed"]
    assert not [r for r in rows if r["receiver"] == "billing-only"]  # a support case
    closed = [r for r in rows if r["event_type"] == "case.closed"]
    assert len({r["event_id"] for r in closed}) == 1  # one event, one id, to each receiver
    body = json.loads(closed[0]["payload"])
    assert body["type"] == "case.closed" and body["data"]["event_id"] == closed[0]["event_id"]
    assert body["data"]["case"]["status"] == "closed" and body["data"]["case"]["outcome"] == "resolved"
    assert body["data"]["case"]["owner"] == "U0BOB" and body["data"]["actor"] == "U0BOB"
    assert body["data"]["details"]["root_cause"] == "Product bug"
    # Customer text goes as JSON, byte for byte: a receiver is not Slack.
    assert body["data"]["response"]["comment"].startswith("Export broken <!channel> & <@U123> x")
    sequences = [json.loads(r["payload"])["data"]["sequence"] for r in rows if r["receiver"] == "crm"]
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)


def test_an_escalation_and_a_case_closing_itself_are_mirrored_too(database, raw_policy, now_clock):
    world = World(database, webhook_policy(raw_policy, hook("https://crm.example.com/x")), now_clock)
    late = world.open(1)
    moot = world.open(2)
    now_clock.advance(hours=3)  # past the claim and first contact deadlines of an urgent case
    DeadlineSweeper(world.deadlines, world.policy, now_clock, lambda _case: None, Metrics()).sweep()
    assert world.types(late)[:2] == ["case.opened", "case.escalated"]
    body = json.loads(world.store.calls(late)[1]["payload"])
    assert body["data"]["details"]["level"] == 1 and body["data"]["actor"] == "closeloop"
    opened = json.loads(world.store.calls(late)[0]["payload"])
    assert body["data"]["case"]["version"] > opened["data"]["case"]["version"]  # now shown overdue
    data, decide = feedback_and_triage(world.policy, id="resp-2", score=10)  # the customer turned promoter
    world.repository.record_feedback(data, decide, now_clock())
    assert world.types(moot)[-1] == "case.closed"
    assert json.loads(world.store.calls(moot)[-1]["payload"])["data"]["details"]["closed_itself"] is True


def test_without_webhooks_nothing_is_written(database, policy, now_clock):
    world = World(database, policy, now_clock)
    case_id = world.open(1)
    world.repository.claim(case_id, "U0ALICE", now_clock())
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(CaseWebhookEvent)) == 0


def deliver_all(world: World, senders: list[CaseWebhookSender], rounds: int = 300) -> None:
    for _ in range(rounds):
        for sender in senders:
            sender.run()
        if not world.pending():
            return
        world.clock.advance(seconds=2)  # past any retry's pause (max_retry is 2s here)
    raise AssertionError(f"{world.pending()} events still pending")


def test_dropped_connections_and_500s_deliver_each_event_once_after_dedup_in_order(
    database, raw_policy, now_clock, receiver
):
    receiver.chaos = Chaos(drop=0.15, drop_after=0.15, error=0.15, seed=4)
    world = World(database, webhook_policy(raw_policy, hook(receiver.url, max_attempts=100)), now_clock)
    cases = [world.open(n) for n in range(6)]
    for case_id in cases:  # interleaved: each case's events are spread among the others'
        world.repository.claim(case_id, "U0ALICE", now_clock())
    for case_id in cases:
        world.repository.log_contact(case_id, "U0ALICE", "email", "Sent a note", now_clock())
    for case_id in cases:
        world.repository.close(case_id, "U0ALICE", CLOSE, now_clock(), expected_owner="U0ALICE")
    deliver_all(world, [world.sender()])
    assert receiver.violations == []
    assert receiver.order_problems(world.expected()) == []
    assert len(receiver.taken) == 4 * len(cases)  # each exactly once, de-duplicated by id
    outcomes = {a.outcome for a in receiver.arrivals}
    assert {"ok", "500", "dropped", "dropped-after"} <= outcomes  # the chaos happened
    ids = [a.event_id for a in receiver.arrivals]
    assert len(ids) > len(set(ids))  # some arrived more than once: at least once, not exactly once
    assert all(row["status"] == "sent" for row in world.store.calls())


def test_a_crash_between_sending_and_recording_resends_with_the_same_id(
    database, raw_policy, now_clock, receiver
):
    world = World(database, webhook_policy(raw_policy, hook(receiver.url)), now_clock)
    case_id = world.open(1)
    world.repository.claim(case_id, "U0ALICE", now_clock())
    with pytest.raises(SystemExit):
        world.sender(CrashAfterSending(database), threads=1).run()
    (first,) = receiver.arrivals
    assert first.type == "case.opened" and world.pending() == 2
    restarted = world.sender()
    assert restarted.run() == 0  # the dead process's lease still holds
    assert len(receiver.arrivals) == 1
    now_clock.advance(seconds=restarted.lease_seconds() + 1)
    assert restarted.run() == 2
    again, claimed = receiver.arrivals[1:]
    assert again.event_id == first.event_id and again.type == "case.opened"
    assert claimed.type == "case.claimed"
    assert receiver.headers[0]["webhook-id"] == receiver.headers[1]["webhook-id"]
    assert [p["type"] for p in receiver.taken] == ["case.opened", "case.claimed"]  # de-duplicated
    assert world.pending() == 0


def test_backoff_waits_on_the_clock_and_holds_the_case_s_later_events(
    database, raw_policy, now_clock, receiver
):
    receiver.status = 500
    policy = webhook_policy(
        raw_policy,
        {"url": receiver.url, "secret_env": "CRM_SECRET", "max_attempts": 3},  # default backoff: 30s, 60s
    )
    world = World(database, policy, now_clock)
    case_id = world.open(1)
    world.repository.claim(case_id, "U0ALICE", now_clock())
    sender = world.sender()
    sender.run()
    assert len(receiver.arrivals) == 1
    head = world.store.calls(case_id)[0]
    assert head["attempts"] == 1 and head["last_error"] == "HTTP 500"
    assert head["retry_at"] == now_clock() + timedelta(seconds=30)
    sender.run()
    now_clock.advance(seconds=29)
    sender.run()
    assert len(receiver.arrivals) == 1  # not before its time, and case.claimed waits behind it
    now_clock.advance(seconds=1)
    sender.run()
    assert [a.type for a in receiver.arrivals] == ["case.opened"] * 2
    assert world.store.calls(case_id)[0]["retry_at"] == now_clock() + timedelta(seconds=60)
    now_clock.advance(seconds=60)
    receiver.status = 200
    receiver.chaos = Chaos(error=1.0)  # the third and last try fails too
    sender.run()
    rows = world.store.calls(case_id)
    assert rows[0]["status"] == "failed" and rows[0]["attempts"] == 3  # given up: the lane moves on,
    assert [a.type for a in receiver.arrivals] == ["case.opened"] * 3 + ["case.claimed"]  # at once
    receiver.chaos = Chaos()
    now_clock.advance(seconds=30)
    sender.run()
    assert [a.type for a in receiver.arrivals] == ["case.opened"] * 3 + ["case.claimed"] * 2
    assert world.store.calls(case_id)[1]["status"] == "sent"
    assert (policy.webhooks[0].key, "failed", "HTTP 500", 1) in world.store.problems()


def test_an_event_too_old_is_given_up(database, raw_policy, now_clock, receiver):
    receiver.status = 503
    policy = webhook_policy(
        raw_policy, {"url": receiver.url, "secret_env": "CRM_SECRET", "give_up_after": "1m"}
    )
    world = World(database, policy, now_clock)
    case_id = world.open(1)
    sender = world.sender()
    for seconds in (0, 30, 60):  # tries at 0s and 30s fail; at 90s it is older than a minute
        now_clock.advance(seconds=seconds)
        sender.run()
    (row,) = world.store.calls(case_id)
    assert row["status"] == "failed" and row["attempts"] == 3 and row["last_error"] == "HTTP 503"


def test_senders_in_threads_never_send_one_row_or_one_case_at_once(
    database_url, raw_policy, now_clock, receiver
):
    receiver.chaos = Chaos(work_seconds=0.01)
    policy = webhook_policy(raw_policy, hook(receiver.url))
    databases = [Database(database_url) for _ in range(3)]
    try:
        worlds = [World(db, policy, now_clock) for db in databases]
        cases = [worlds[0].open(n) for n in range(20)]
        for case_id in cases:
            worlds[0].repository.claim(case_id, "U0ALICE", now_clock())
        for _ in range(10):
            race(3, lambda i: worlds[i].sender(threads=4, batch=5).run())
            if not worlds[0].pending():
                break
        assert worlds[0].pending() == 0
        assert receiver.violations == []
        # No chaos: every arrival was answered 200, so a row sent twice would show as a repeat.
        ids = [a.event_id for a in receiver.arrivals]
        assert len(ids) == len(set(ids)) == 2 * len(cases)
        assert receiver.order_problems(worlds[0].expected()) == []
    finally:
        for db in databases:
            db.dispose()


def test_closeloop_check_names_a_missing_secret_and_the_events_not_sent(
    database, database_url, raw_policy, now_clock, receiver, tmp_path
):
    receiver.status = 500
    hooked = {"url": receiver.url, "secret_env": "CRM_SECRET", "name": "crm", "max_attempts": 1}
    world = World(database, webhook_policy(raw_policy, hooked), now_clock)
    world.open(1)
    world.sender().run()  # one try, given up
    path = tmp_path / "policy.yml"
    path.write_text(yaml.safe_dump(raw_policy))
    lines: list[str] = []
    settings = load_settings({"CLOSELOOP_POLICY": str(path), "DATABASE_URL": database_url}, None)
    assert run_check(settings, None, out=lines.append) == 1
    assert any(
        line.startswith("✗ webhooks[0].secret_env in the policy names CRM_SECRET, which is not set")
        for line in lines
    )
    assert "✗ case events to webhook crm (given up): 1 not sent — HTTP 500" in lines
    lines.clear()
    fresh = f"sqlite:///{tmp_path / 'none-yet.sqlite3'}"  # nothing owed in a database not made yet
    settings = load_settings(
        {"CLOSELOOP_POLICY": str(path), "CRM_SECRET": SECRET, "DATABASE_URL": fresh}, None
    )
    assert run_check(settings, None, out=lines.append) == 0, lines


def test_a_redirect_is_not_followed_and_an_answer_that_is_not_http_is_a_failure(
    database, raw_policy, now_clock, receiver
):
    receiver.status = 302  # urllib would follow it as a GET without the body
    world = World(database, webhook_policy(raw_policy, hook(receiver.url, name="crm")), now_clock)
    case_id = world.open(1)
    world.sender().run()
    (row,) = world.store.calls(case_id)
    assert row["status"] == "pending" and row["last_error"] == "HTTP 302" and len(receiver.arrivals) == 1
    with socket.create_server(("127.0.0.1", 0)) as server:  # answers a line that is not HTTP
        port = server.getsockname()[1]

        def garble() -> None:
            connection, _ = server.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(b"hello, this is not HTTP\r\n\r\n")

        thread = threading.Thread(target=garble, daemon=True)
        thread.start()
        garbled = webhook_policy(raw_policy, hook(f"http://127.0.0.1:{port}/hooks", name="crm"))  # moved
        other = World(database, garbled, now_clock)
        now_clock.advance(seconds=5)
        other.sender().run()
        thread.join(timeout=10)
    (row,) = other.store.calls(case_id)
    assert row["attempts"] == 2 and row["last_error"].startswith("no answer (BadStatusLine")
