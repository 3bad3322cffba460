"""One test per authorisation rule, through signed requests to the real endpoint. Here the policy
restricts claiming to each department's people and reports to managers."""

from __future__ import annotations

import pytest

from bot.domain.vocabulary import EventKind
from bot.policy_file import parse_policy
from bot.slack.refusals import words
from tests.factories import feedback_and_triage
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
    assert words(escalations.acknowledge(case.id, "claim", "U0ALICE").refusal).startswith(
        "Only this department's managers"
    )
    assert escalations.reassign(case.id, "claim", "U0OMAR", "U0BOB").refusal is not None  # billing's manager
    outsider = escalations.reassign(case.id, "claim", "U0MAYA", "U0OMAR")
    assert words(outsider.refusal) == "<@U0OMAR> is not one of this department's members in the policy."
    assert escalations.reassign(case.id, "claim", "U0CAROL", "U0BOB").refusal is None
    assert refusals(stack, case) == [("U0ALICE", "acknowledge an escalation"), ("U0OMAR", "reassign")]


def test_a_case_whose_department_left_the_policy_is_handled_by_the_default_department(
    stack, raw_policy, clock
):
    """A case routed to a returns department before the policy dropped it: support (the default
    department, where it is posted) is nudged about it, answers its escalation, claims and closes
    it. Its manager used to be able to answer the escalation but not close the case."""
    raw_policy["departments"].append(
        {"name": "returns", "channel": "C0RETURNS", "managers": ["U0OPS"], "members": ["U0OPS"]}
    )
    raw_policy["routing"]["rules"].insert(0, {"department": "returns", "comment_words": ["refund"]})
    before = parse_policy(raw_policy, "policy.yml")
    data, decide = feedback_and_triage(before, comment="Still no refund.", customer=SMB)
    services = stack.runtime.services
    case_id = stack.runtime.repository.record_feedback(data, decide, clock()).case_id
    services.cases.on_changed(case_id)  # as the intake does: the case message is owed
    stack.settle()
    case = stack.runtime.repository.get_case(case_id)
    assert (case.department, case.slack_channel) == ("returns", "C0SUPPORT")

    clock.advance(hours=2)
    stack.sweep_deadlines()
    replies = [m.text for m in stack.simulator.thread(case.slack_channel, case.slack_ts)[1:]]
    assert any("<@U0ALICE> <@U0BOB> can someone take it?" in t for t in replies)  # support's people
    dm = stack.simulator.dm_channel("U0MAYA").id
    (escalation,) = stack.simulator.messages(dm)
    stack.slack.click("U0MAYA", dm, escalation.ts, "escalation_ack")
    stack.settle()
    assert "acknowledged this" in str(stack.simulator.message(dm, escalation.ts).blocks)

    click(stack, "U0OMAR", case, "case_claim")  # billing's manager is not one of support's people
    assert told(stack, "U0OMAR") == "Only this department's members can claim its cases."
    click(stack, "U0ALICE", case, "case_claim")
    steps.close_case(stack, case, "U0MAYA")  # the manager who answered the escalation closes it
    closed = stack.runtime.repository.get_case(case.id)
    assert (closed.status, closed.owner_id, closed.closed_by) == ("closed", "U0ALICE", "U0MAYA")
    assert refusals(stack, case) == [("U0OMAR", "claim")]


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
