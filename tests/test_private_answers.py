"""Private answers reach people who read a channel without having joined it: they go through the
click's response_url, which needs no membership (chat.postEphemeral does, as Slack enforces)."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError

from tests.support import steps
from tests.support.steps import click

NEWCOMER = "U0NEWBIE"  # in the workspace, reads #support, has not joined it


def test_a_non_member_clicking_claim_on_a_taken_case_is_told_privately(stack):
    stack.simulator.add_user(NEWCOMER, "newbie", "Nia Newcomer")
    case = steps.open_case(stack)
    seen = stack.simulator.message(case.slack_channel, case.slack_ts)  # the newcomer's screen
    click(stack, "U0ALICE", case, "case_claim")
    assert NEWCOMER not in stack.simulator.workspace.channel(case.slack_channel).members
    stack.slack.click(NEWCOMER, case.slack_channel, case.slack_ts, "case_claim", message=seen)
    stack.settle()
    (told,) = stack.simulator.ephemerals(NEWCOMER)
    assert told.text == "<@U0ALICE> already owns this case."
    (answer,) = stack.simulator.responses  # one use of the click's response_url, of Slack's five
    assert answer.payload["response_type"] == "ephemeral" and answer.payload["replace_original"] is False
    assert stack.runtime.repository.get_case(case.id).owner_id == "U0ALICE"


def test_slack_refuses_an_ephemeral_message_to_a_non_member(stack):
    """The simulator keeps Slack's rule, so the test above would see the old failure."""
    stack.simulator.add_user(NEWCOMER, "newbie", "Nia Newcomer")
    with pytest.raises(SlackApiError, match="user_not_in_channel"):
        stack.runtime.bolt_app.client.chat_postEphemeral(channel="C0SUPPORT", user=NEWCOMER, text="hello")
    assert stack.simulator.ephemerals(NEWCOMER) == []


def test_a_members_refusal_still_reaches_them(stack):
    case = steps.open_case(stack)
    click(stack, "U0ALICE", case, "case_claim")
    click(stack, "U0BOB", case, "case_release")
    (told,) = stack.simulator.ephemerals("U0BOB")
    assert told.text == "Only the owner, <@U0ALICE>, can release it."


def test_an_unexpected_error_is_told_with_its_id_even_to_a_non_member(stack, monkeypatch, caplog):
    stack.simulator.add_user(NEWCOMER, "newbie", "Nia Newcomer")
    case = steps.open_case(stack)

    def broken(*_args, **_kwargs):
        raise RuntimeError("the database said something odd")

    monkeypatch.setattr(stack.runtime.repository, "claim", broken)
    stack.slack.click(NEWCOMER, case.slack_channel, case.slack_ts, "case_claim")
    stack.settle()
    (logged,) = [r for r in caplog.records if r.name == "closeloop.errors" and r.levelname == "ERROR"]
    error_id = logged.getMessage().split()[2]
    (answer,) = stack.simulator.responses
    assert answer.payload["text"] == f"Something went wrong on our side (error id {error_id})."
    assert answer.payload["response_type"] == "ephemeral"
