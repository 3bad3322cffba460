"""Hand over…: the owner, or a department manager, gives a claimed case to a colleague with a
reason, through a form on the case message. End to end, against the simulated Slack."""

from __future__ import annotations

import pytest

from bot.domain.vocabulary import EventKind
from bot.policy_file import parse_policy
from tests.support import steps
from tests.support.steps import click

SMB = {"name": "Dana Scully", "segment": "smb"}
REASON = "Bob knows their integration; I'm out from Monday."


def claimed(stack, owner="U0ALICE"):
    case = steps.open_case(stack, customer=SMB)
    click(stack, owner, case, "case_claim")
    return stack.runtime.repository.get_case(case.id)


def buttons(stack, case):
    message = stack.simulator.message(case.slack_channel, case.slack_ts)
    return [e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]]


def hand_over(stack, user, case, values):
    """`user` clicks Hand over… and submits the form with `values`: (Slack's answer, the form)."""
    click(stack, user, case, "case_hand_over")
    (view,) = stack.simulator.open_views(user)
    result = stack.slack.submit_view(user, view["id"], values, enforce_required=False)
    stack.settle()
    return result, view


def dm_texts(stack, user):
    channel = stack.simulator.dm_channel(user)
    return [str(m.blocks) for m in stack.simulator.messages(channel.id)]


def thread_texts(stack, case):
    return [m.text for m in stack.simulator.thread(case.slack_channel, case.slack_ts)[1:]]


@pytest.mark.backends("sqlite", "postgresql")
def test_the_owner_hands_a_case_over_with_a_reason(stack):
    case = steps.open_case(stack, customer=SMB)
    assert "case_hand_over" in buttons(stack, case)  # "Assign…", a manager's (tests/test_assign.py)
    click(stack, "U0ALICE", case, "case_claim")
    assert "case_hand_over" in buttons(stack, case)
    result, view = hand_over(stack, "U0ALICE", case, {"person": "U0BOB", "reason": REASON})
    assert result.ok and not result.json, result.body  # a plain ack: the form closes
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == ["person", "reason"]
    current = stack.runtime.repository.get_case(case.id)
    assert (current.owner_id, current.status) == ("U0BOB", "claimed")
    stored = str(stack.simulator.message(case.slack_channel, case.slack_ts).blocks)
    assert "Claimed by <@U0BOB>" in stored  # the case message is edited in place
    (dm,) = dm_texts(stack, "U0BOB")
    assert f"<@U0ALICE> gave you case #{case.id}." in dm
    assert "Bob knows their integration; I'm out from Monday." in dm
    assert any(
        f"<@U0ALICE> handed this case over to <@U0BOB> (was <@U0ALICE>): “{REASON}”" in t
        for t in thread_texts(stack, case)
    )
    (event,) = [e for e in stack.runtime.repository.history(case.id) if e.kind == EventKind.REASSIGNED]
    assert (event.actor, event.details["to"], event.details["reason"]) == ("U0ALICE", "U0BOB", REASON)


def test_a_manager_reassigns_someone_elses_case_at_any_time(stack):
    case = claimed(stack)
    result, _ = hand_over(stack, "U0MAYA", case, {"person": "U0BOB", "reason": "Alice is on leave."})
    assert result.ok and not result.json
    assert stack.runtime.repository.get_case(case.id).owner_id == "U0BOB"
    assert any("Alice is on leave." in dm for dm in dm_texts(stack, "U0BOB"))


def test_a_colleague_who_is_neither_owner_nor_manager_may_not(stack):
    case = claimed(stack)
    click(stack, "U0BOB", case, "case_hand_over")
    (told,) = stack.simulator.ephemerals("U0BOB")
    assert told.text == "Only the owner, <@U0ALICE>, or a manager of this department can hand it over."
    assert stack.simulator.open_views("U0BOB") == []


def test_a_hostile_reason_is_shown_escaped(stack):
    case = claimed(stack)
    hostile = "<!channel> pay at <https://evil.example|Invoice> & <@U0MAYA>"
    hand_over(stack, "U0ALICE", case, {"person": "U0BOB", "reason": hostile})
    escaped = "&lt;!channel&gt; pay at &lt;https://evil.example|Invoice&gt; &amp; &lt;@U0MAYA&gt;"
    (dm,) = dm_texts(stack, "U0BOB")
    assert escaped in dm and "<!channel>" not in dm
    (reply,) = [t for t in thread_texts(stack, case) if "handed this case over" in t]
    assert escaped in reply and "<!channel>" not in reply and "<https://evil" not in reply


@pytest.mark.parametrize(
    ("values", "errors"),
    [
        ({"person": "U0BOB"}, {"reason": "Please say why, in a sentence: they will read it."}),
        (
            {"person": "U0BOB", "reason": "   "},
            {"reason": "Please say why, in a sentence: they will read it."},
        ),
        ({"reason": REASON}, {"person": "Please choose who should take it over."}),
        ({"person": "U0ALICE", "reason": REASON}, {"person": "You already own this case."}),
    ],
    ids=["no reason", "a blank reason", "nobody chosen", "to oneself"],
)
def test_bad_input_is_shown_in_the_form_and_changes_nothing(stack, values, errors):
    case = claimed(stack)
    result, _ = hand_over(stack, "U0ALICE", case, values)
    assert result.json == {"response_action": "errors", "errors": errors}
    assert stack.runtime.repository.get_case(case.id).owner_id == "U0ALICE"
    assert dm_texts(stack, "U0BOB") == []


class TestWhenOnlyTheDepartmentMayClaim:
    @pytest.fixture
    def policy(self, raw_policy):
        raw_policy["permissions"] = {"claim": "department", "reports": "anyone"}
        return parse_policy(raw_policy, "policy.yml")

    def test_a_case_cannot_go_to_someone_outside_the_department(self, stack):
        case = claimed(stack)
        result, _ = hand_over(stack, "U0ALICE", case, {"person": "U0OMAR", "reason": REASON})
        assert result.json == {
            "response_action": "errors",
            "errors": {"person": "<@U0OMAR> is not one of this department's members in the policy."},
        }
        assert stack.runtime.repository.get_case(case.id).owner_id == "U0ALICE"
        assert dm_texts(stack, "U0OMAR") == []
