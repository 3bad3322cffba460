"""One test per authorisation rule, through signed requests to the real endpoint. Here the policy
restricts claiming to each department's people and reports to managers."""

from __future__ import annotations

import pytest

from bot.domain.vocabulary import EventKind
from bot.policy_file import parse_policy
from tests.support import steps
from tests.support.steps import click

# support: members Alice and Bob, manager Maya. Carol is the second-level escalation contact;
# Omar manages billing. None of Carol and Omar belongs to support.
SMB = {"name": "Dana Scully", "segment": "smb"}


@pytest.fixture
def policy(raw_policy):
    raw_policy["permissions"] = {"claim": "department", "reports": "managers"}
    return parse_policy(raw_policy, "policy.yml")


def open_case(stack):
    return steps.open_case(stack, customer=SMB)


def told(stack, user) -> str:
    return stack.simulator.ephemerals(user)[-1].text


def refusals(stack, case):
    return [
        (e.actor, e.details["action"])
        for e in stack.runtime.repository.history(case.id)
        if e.kind == EventKind.REFUSED
    ]


def test_only_the_departments_people_may_claim(stack):
    case = open_case(stack)
    click(stack, "U0OMAR", case, "case_claim")
    assert told(stack, "U0OMAR") == "Only this department's members can claim its cases."
    assert stack.runtime.repository.get_case(case.id).owner_id is None
    assert refusals(stack, case) == [("U0OMAR", "claim")]
    click(stack, "U0MAYA", case, "case_claim")  # a manager of the department may
    assert stack.runtime.repository.get_case(case.id).owner_id == "U0MAYA"


def test_closing_an_unclaimed_case_needs_the_right_to_claim_it(stack):
    case = open_case(stack)
    click(stack, "U0OMAR", case, "case_close")
    assert told(stack, "U0OMAR") == "Only this department's members or managers can close its cases."
    assert stack.simulator.open_views("U0OMAR") == []
    click(stack, "U0BOB", case, "case_close")
    assert len(stack.simulator.open_views("U0BOB")) == 1
    assert refusals(stack, case) == [("U0OMAR", "close")]


def test_only_the_owner_or_a_manager_closes_a_claimed_case(stack):
    case = open_case(stack)
    click(stack, "U0ALICE", case, "case_claim")
    click(stack, "U0BOB", case, "case_close")
    assert told(stack, "U0BOB").startswith("Only the owner, <@U0ALICE>, or a manager")
    click(stack, "U0MAYA", case, "case_close")
    assert len(stack.simulator.open_views("U0MAYA")) == 1
    assert refusals(stack, case) == [("U0BOB", "close")]


def test_only_the_owner_releases_or_logs_a_contact(stack):
    case = open_case(stack)
    click(stack, "U0ALICE", case, "case_claim")
    click(stack, "U0BOB", case, "case_release")
    assert told(stack, "U0BOB") == "Only the owner, <@U0ALICE>, can release it."
    click(stack, "U0MAYA", case, "case_log_contact")
    assert told(stack, "U0MAYA") == "Only the owner, <@U0ALICE>, can log a contact."
    assert stack.runtime.repository.get_case(case.id).owner_id == "U0ALICE"
    assert refusals(stack, case) == [("U0BOB", "release"), ("U0MAYA", "log a contact")]


def test_a_race_lost_is_explained_but_not_recorded_as_a_refusal(stack):
    case = open_case(stack)
    seen = stack.simulator.message(case.slack_channel, case.slack_ts)  # Bob's screen, before Alice
    click(stack, "U0ALICE", case, "case_claim")
    stack.slack.click("U0BOB", case.slack_channel, case.slack_ts, "case_claim", message=seen)
    stack.settle()
    assert told(stack, "U0BOB") == "<@U0ALICE> already owns this case."
    assert refusals(stack, case) == []


def test_only_managers_and_the_second_level_answer_escalations(stack):
    case = open_case(stack)
    escalations = stack.runtime.services.escalations
    assert escalations.acknowledge(case.id, "claim", "U0ALICE").refusal.startswith(
        "Only this department's managers"
    )
    assert escalations.reassign(case.id, "claim", "U0OMAR", "U0BOB").refusal is not None  # billing's manager
    outsider = escalations.reassign(case.id, "claim", "U0MAYA", "U0OMAR")
    assert outsider.refusal == "<@U0OMAR> is not one of this department's members in the policy."
    assert escalations.reassign(case.id, "claim", "U0CAROL", "U0BOB").refusal is None
    assert refusals(stack, case) == [("U0ALICE", "acknowledge an escalation"), ("U0OMAR", "reassign")]


def test_reports_are_for_managers(stack):
    stack.slack.slash_command("U0ALICE", "C0SUPPORT", "/loop", "overdue")
    stack.settle()
    assert told(stack, "U0ALICE") == "Reports are for managers here (permissions.reports in the policy)."
    assert stack.simulator.responses == []  # no report was sent
    stack.slack.slash_command("U0MAYA", "C0SUPPORT", "/loop", "overdue")
    stack.settle()
    assert "🔴 Overdue (0)" in str(stack.simulator.responses[-1].payload)


def test_a_department_without_members_cannot_restrict_claiming(raw_policy):
    from tests.test_config import problems

    raw_policy["permissions"] = {"claim": "department"}
    del raw_policy["departments"][1]["members"], raw_policy["departments"][2]["members"]
    assert problems(raw_policy) == [
        "policy.yml: departments[1].members: empty, but permissions.claim is 'department' — list who may "
        "claim this department's cases, or set permissions.claim: anyone",
        "policy.yml: departments[2].members: empty, but permissions.claim is 'department' — list who may "
        "claim this department's cases, or set permissions.claim: anyone",
    ]
