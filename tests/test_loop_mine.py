"""`/loop mine`, end to end: the caller's open cases with their next deadlines and their case
buttons, privately, inside Slack's limits, and the buttons work from the answer itself."""

from __future__ import annotations

from typing import Any

from bot.devkit.simulator.models import Ephemeral
from bot.domain.deadlines import next_deadline
from bot.slack.actions import CaseRef
from bot.slack.case_message import when
from tests.factories import CLOSE_FORM
from tests.support.steps import click, open_case

SUPPORT = "C0SUPPORT"
ME = "U0ALICE"


def ask(stack: Any, user: str = ME) -> Ephemeral:
    """`user` types `/loop mine`; the private answer they see."""
    before = len(stack.simulator.ephemerals(user))
    stack.slack.slash_command(user, SUPPORT, "/loop", "mine")
    stack.settle()
    answers = stack.simulator.ephemerals(user)
    assert len(answers) == before + 1, "exactly one private answer"
    return answers[-1]


def sections(answer: Ephemeral) -> list[str]:
    return [b["text"]["text"] for b in answer.blocks if b["type"] == "section"]


def buttons(answer: Ephemeral) -> list[tuple[str, int]]:
    """(action_id, case id) of every button in the answer."""
    return [
        (el["action_id"], CaseRef.decode(el["value"]).case_id)
        for b in answer.blocks
        if b["type"] == "actions"
        for el in b["elements"]
    ]


def claimed(stack: Any, n: int, user: str = ME, **overrides: Any) -> Any:
    case = open_case(stack, id=f"resp-{n}", customer={"id": f"cus-{n}", "name": f"Customer {n}"}, **overrides)
    click(stack, user, case, "case_claim")
    return stack.runtime.repository.get_case(case.id)


def test_my_open_cases_are_listed_oldest_first_with_deadlines_and_buttons(stack, clock):
    first = claimed(stack, 1)
    clock.advance(minutes=5)
    theirs = claimed(stack, 2, user="U0BOB")
    clock.advance(minutes=5)
    second = claimed(stack, 3)

    answer = ask(stack)

    assert answer.text == "You have 2 open cases"
    lines = sections(answer)[1:]
    assert len(lines) == 2
    assert f"Case #{first.id}" in lines[0] and "Customer 1" in lines[0]  # oldest first
    assert f"Case #{second.id}" in lines[1] and "Customer 3" in lines[1]
    assert not any(f"Case #{theirs.id}" in s or "Customer 2" in s for s in sections(answer))
    now = clock()
    for line, case in ((lines[0], first), (lines[1], second)):
        upcoming = next_deadline(case, now)
        assert upcoming is not None and not upcoming.overdue
        assert f"first contact due {when(upcoming.due_at)}" in line
    mine = {"case_log_contact", "case_close", "case_release", "case_hand_over"}
    shown = buttons(answer)
    assert {a for a, c in shown if c == first.id} == mine
    assert {a for a, c in shown if c == second.id} == mine
    assert {c for _, c in shown} == {first.id, second.id}


def test_release_from_the_answer_releases_the_case(stack):
    case = claimed(stack, 1)
    answer = ask(stack)
    value = CaseRef(case_id=case.id, version=case.version).encode()

    stack.slack.click(ME, SUPPORT, answer.ts, "case_release", value=value)
    stack.settle()

    assert stack.runtime.repository.get_case(case.id).owner_id is None
    channel_buttons = stack.simulator.message(case.slack_channel, case.slack_ts)
    assert "case_claim" in str(channel_buttons)  # the case message offers Claim again
    assert ask(stack).text == "You have no open cases. Claim one in your department's channel."


def test_close_loop_from_the_answer_opens_its_form_and_closes_the_case(stack):
    case = claimed(stack, 1)
    answer = ask(stack)
    value = CaseRef(case_id=case.id, version=case.version).encode()

    stack.slack.click(ME, SUPPORT, answer.ts, "case_close", value=value)
    stack.settle()
    (view,) = stack.simulator.open_views(ME)
    stack.slack.submit_view(ME, view["id"], CLOSE_FORM)
    stack.settle()

    assert stack.runtime.repository.get_case(case.id).status == "closed"


def test_a_click_on_a_stale_answer_is_refused_privately(stack):
    """After Release the answer still shows the old buttons; Bob claims meanwhile, and my
    Release on the stale answer is refused in words, not silently applied."""
    case = claimed(stack, 1)
    answer = ask(stack)
    click(stack, ME, case, "case_release")
    click(stack, "U0BOB", case, "case_claim")
    value = CaseRef(case_id=case.id, version=case.version).encode()

    stack.slack.click(ME, SUPPORT, answer.ts, "case_release", value=value)
    stack.settle()

    assert stack.runtime.repository.get_case(case.id).owner_id == "U0BOB"
    assert "U0BOB" in stack.simulator.ephemerals(ME)[-1].text


def test_someone_with_no_open_cases_is_told_how_to_get_one(stack):
    claimed(stack, 1, user="U0BOB")
    answer = ask(stack)
    assert answer.text == "You have no open cases. Claim one in your department's channel."
    assert answer.blocks == []


def test_twenty_open_cases_are_capped_inside_slacks_limits(stack, clock):
    cases = []
    for n in range(20):
        cases.append(claimed(stack, n))
        clock.advance(minutes=1)

    answer = ask(stack)

    assert len(answer.blocks) <= 50
    assert all(len(s) <= 3000 for s in sections(answer))
    assert answer.text == "You have 20 open cases"
    assert "Your open cases (20)" in sections(answer)[0]
    listed = {c for _, c in buttons(answer)}
    assert listed == {c.id for c in cases[:15]}  # the 15 oldest
    assert "…and 5 more" in str(answer.blocks[-1])
    assert stack.simulator.violations == []


def test_hostile_customer_names_are_inert(stack):
    hostile = "<!channel> <@U0BOB> *bold* <https://evil.example|click> & <#C0WINS>"
    case = open_case(stack, id="resp-x", customer={"id": "cus-x", "name": hostile, "account": hostile})
    click(stack, ME, case, "case_claim")

    (line,) = sections(ask(stack))[1:]

    assert "<!channel>" not in line and "<@U0BOB>" not in line and "<https://evil" not in line
    assert "<#C0WINS>" not in line
    assert "&lt;!channel&gt;" in line
