"""Outbound case events end to end: the real bot (intake over HTTP, clicks and the close form in
the simulated Slack) mirrors a case to a real receiver, and a receiver that keeps failing
alerts the policy's admins by DM once a day."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.devkit.local_stack import LocalStack
from bot.devkit.simulator import SlackSimulator
from bot.policy_file import parse_policy
from bot.settings import SettingsError
from tests.support.clock import FakeClock
from tests.support.steps import click, close_case, open_case
from tests.support.webhook_receiver import WebhookReceiver

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as running:
        yield running


@pytest.fixture
def real_clock() -> FakeClock:
    """Real time to start with: the receiver's verify refuses a timestamp five minutes off."""
    return FakeClock(datetime.now(UTC))


def stack_for(database_url, raw_policy, clock, receiver, environment=None) -> LocalStack:
    raw_policy["webhooks"] = [
        {
            "url": receiver.url,
            "secret_env": "CRM_SECRET",
            "name": "crm",
            "events": ["case.opened", "case.claimed", "case.closed"],
        }
    ]
    policy = parse_policy(raw_policy, "policy.yml")
    simulator = SlackSimulator(
        bot_token="xoxb-test", signing_secret="test-signing-secret", clock=clock.timestamp
    )
    return LocalStack(
        policy=policy,
        database_url=database_url,
        clock=clock,
        simulator=simulator,
        environment={"CRM_SECRET": SECRET} if environment is None else environment,
    )


@pytest.mark.backends("sqlite")
def test_a_case_worked_in_slack_is_mirrored_in_order_with_valid_signatures(
    database_url, backend, raw_policy, real_clock, receiver
):
    with stack_for(database_url, raw_policy, real_clock, receiver) as stack:
        case = open_case(stack, comment="Broken export <!channel>")
        click(stack, "U0ALICE", case, "case_claim")
        close_case(stack, case)
        assert receiver.arrivals == []  # nothing is sent on a request's path
        assert stack.runtime.send_case_webhooks() == 3
        assert [p["type"] for p in receiver.taken] == ["case.opened", "case.claimed", "case.closed"]
        assert receiver.violations == []
        closed = receiver.taken[-1]["data"]
        assert closed["case"]["id"] == case.id and closed["case"]["status"] == "closed"
        assert closed["actor"] == "U0ALICE" and closed["details"]["outcome"] == "resolved"
        assert closed["response"]["comment"] == "Broken export <!channel>"
        assert closed["customer"]["name"] == "Dana Scully"
        assert stack.runtime.send_case_webhooks() == 0  # each once
        assert stack.simulator.violations == []


@pytest.mark.backends("sqlite")
def test_a_missing_secret_stops_start_up_with_one_line(
    database_url, backend, raw_policy, real_clock, receiver
):
    with pytest.raises(SettingsError) as caught:
        stack_for(database_url, raw_policy, real_clock, receiver, environment={})
    assert "webhooks[0].secret_env in the policy names CRM_SECRET, which is not set" in str(caught.value)


# Both backends: the once-a-day claim is a row lock and a unique key (storage/admin_alerts.py).
@pytest.mark.backends("sqlite", "postgresql")
def test_a_receiver_that_keeps_failing_alerts_the_admins_once_a_day(
    database_url, backend, raw_policy, real_clock, receiver
):
    receiver.status = 500
    with stack_for(database_url, raw_policy, real_clock, receiver) as stack:
        open_case(stack)
        admin_dm = stack.simulator.dm_channel("U0OPS").id
        for _ in range(2):  # two failed tries: not yet worth an alert
            stack.runtime.send_case_webhooks()
            real_clock.advance(seconds=60)
        assert stack.simulator.messages(admin_dm) == []
        stack.runtime.send_case_webhooks()  # the third try: the admins hear of it
        real_clock.advance(seconds=130)
        stack.runtime.send_case_webhooks()  # the fourth, the same day: not again
        assert len(receiver.arrivals) == 4
        (alert,) = stack.simulator.messages(admin_dm)
        assert "cannot deliver case events to the webhook *crm*" in alert.text
        assert "HTTP 500" in alert.text and "Nothing is lost yet" in alert.text
        # A day later it is still failing: one more alert. (The timestamps are then a day off
        # for the receiver's verify, so it answers 401: still a failure to alert about.)
        real_clock.advance(days=1)
        stack.runtime.send_case_webhooks()
        assert len(stack.simulator.messages(admin_dm)) == 2
