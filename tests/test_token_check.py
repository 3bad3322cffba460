"""A Slack incident at start-up must not take the intake down: only Slack's word that the token
is bad stops `closeloop run`; a 5xx, a 429 or no connection starts it anyway, and it asks again."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient

from bot.devkit.local_stack import seed_workspace
from bot.devkit.simulator import SlackSimulator
from bot.policy_file import load_policy
from bot.token_check import TokenCheck, Verdict, ask_slack
from storage.migrate import upgrade
from tests.factories import payload
from tests.support.crash_helpers import EXAMPLE_POLICY, BotProcess, posted_case_ids, wait_until


def client_for(simulator: SlackSimulator, token: str | None = None) -> WebClient:
    return WebClient(token=token or simulator.bot_token, base_url=simulator.api_url, timeout=5)


@pytest.mark.parametrize(
    ("fault", "detail"),
    [({"status": 500}, "HTTP 500 internal_error"), ({"status": 429}, "HTTP 429 ratelimited")],
)
def test_a_slack_incident_is_no_verdict_on_the_token(fault, detail):
    with SlackSimulator() as simulator:
        simulator.inject_fault("auth.test", times=1, **fault)
        answer = ask_slack(client_for(simulator))
        assert (answer.verdict, answer.detail) == (Verdict.UNKNOWN, detail)
        assert ask_slack(client_for(simulator)).verdict == Verdict.GOOD


def test_no_connection_is_no_verdict_either():
    with SlackSimulator() as simulator:
        client = client_for(simulator)
    answer = ask_slack(client)  # the simulator is gone: nothing listens there
    assert answer.verdict == Verdict.UNKNOWN and answer.detail


@pytest.mark.parametrize("code", ["invalid_auth", "not_authed", "account_inactive", "token_revoked"])
def test_only_slacks_word_makes_a_token_bad(code):
    with SlackSimulator() as simulator:
        simulator.inject_fault("auth.test", error=code, times=1)
        assert ask_slack(client_for(simulator)).verdict == Verdict.BAD


def test_asked_again_until_slack_answers_then_a_bad_token_is_reported():
    refusals: list[str] = []
    with SlackSimulator() as simulator:
        simulator.inject_fault("auth.test", status=503, times=2)
        check = TokenCheck(client_for(simulator), refusals.append)
        assert check.first().verdict == Verdict.UNKNOWN and not check.settled
        check.again()  # still down
        assert not check.settled and refusals == []
        check.client = client_for(simulator, "xoxb-revoked")  # meanwhile, someone revoked it
        check.again()  # Slack is back, and says the token is wrong
        assert check.settled
    assert refusals == [
        "Slack refused SLACK_BOT_TOKEN (invalid_auth) — copy the Bot User OAuth Token again from your "
        "app's 'OAuth & Permissions' page"
    ]


@pytest.mark.process
def test_run_starts_and_serves_the_intake_while_slack_answers_500(tmp_path):
    with SlackSimulator(bot_token="xoxb-outage", signing_secret="outage-secret") as simulator:
        seed_workspace(simulator, load_policy(EXAMPLE_POLICY))
        simulator.inject_fault("auth.test", status=500, times=5)
        database_url = f"sqlite:///{tmp_path / 'outage.sqlite3'}"
        upgrade(database_url)
        bot = BotProcess(simulator, database_url, tmp_path, name="outage").start()
        try:
            status, body = bot.post_feedback(payload(id="during-outage"))
            assert status == 202, body
            assert wait_until(lambda: len(posted_case_ids(simulator, "C0SUPPORT")) == 1, timeout=30)
        finally:
            assert bot.stop() == 0, bot.output()
    output = bot.output()
    assert "Slack could not confirm SLACK_BOT_TOKEN (HTTP 500 internal_error): starting anyway" in output
    assert "Slack refused" not in output
