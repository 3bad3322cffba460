"""The App Home end to end: opening it, its three parts, its buttons pressed in the published view,
and the refreshes changes owe it, through the simulated Slack."""

from __future__ import annotations

import json
from typing import Any

from bot.devkit.local_stack import LocalStack
from tests.factories import CLOSE_FORM, payload
from tests.support.clock import FakeClock
from tests.support.steps import click, open_case

MARKUP = "<!channel> <@U123> & <https://evil.example|Click here> "
HOSTILE = (MARKUP + "x" * 10_000)[:10_000]  # the longest comment the intake takes
HOSTILE_NAME = (MARKUP * 5)[:200]  # the longest name and account it takes
LIVE = ("<!channel>", "<@U123>", "<https://evil")


def open_home(stack: LocalStack, user: str) -> dict[str, Any]:
    event = {"type": "app_home_opened", "user": user, "tab": "home", "channel": f"D{user}"}
    result = stack.slack.event(event)
    assert result.status == 200
    stack.settle()
    view = stack.simulator.home_view(user)
    assert view is not None
    return view


def let_refreshes_go(stack: LocalStack, clock: FakeClock, seconds: float = 3) -> None:
    """Time passes beyond the coalescing window, and the outbox sweeps (as its interval would)."""
    clock.advance(seconds=seconds)
    stack.runtime.outbox_queue.request_sweep()
    stack.settle()


def press(stack: LocalStack, user: str, view: dict[str, Any], case_id: int, action_id: str) -> None:
    """`user` presses a case's button in their published Home view, and the bot settles."""
    result = stack.slack.click_in_view(user, view["id"], action_id, block_id=f"case_actions_{case_id}")
    assert result.ok, result.body
    stack.settle()


def text_of(view: dict[str, Any] | None) -> str:
    return json.dumps(view, ensure_ascii=False)


def publishes(stack: LocalStack, user: str) -> int:
    return sum(1 for call in stack.simulator.calls_to("views.publish") if call.params.get("user_id") == user)


def action_ids(view: dict[str, Any], case_id: int) -> list[str]:
    for block in view["blocks"]:
        if block.get("block_id") == f"case_actions_{case_id}":
            return [element["action_id"] for element in block["elements"]]
    return []


def test_home_shows_figures_my_cases_with_buttons_and_the_queue(stack, clock):
    mine = open_case(stack, id="mine")
    waiting = open_case(stack, id="waiting")
    click(stack, "U0ALICE", mine, "case_claim")
    view = open_home(stack, "U0ALICE")
    text = text_of(view)
    assert "Your month so far" in text and "Loops closed" in text
    assert "Your open cases (1)" in text
    assert action_ids(view, mine.id) == ["case_log_contact", "case_close", "case_release", "case_hand_over"]
    assert "Unclaimed in Customer Support* (1)" in text
    assert action_ids(view, waiting.id)[0] == "case_claim"
    assert len(view["blocks"]) <= 100


def test_claim_pressed_in_home_claims_and_refreshes_the_home(stack, clock):
    case = open_case(stack)
    view = open_home(stack, "U0ALICE")
    press(stack, "U0ALICE", view, case.id, "case_claim")
    assert stack.runtime.repository.get_case(case.id).owner_id == "U0ALICE"
    message = stack.simulator.message(case.slack_channel, case.slack_ts)
    assert "U0ALICE" in json.dumps(message.blocks)  # the channel's message shows the claim
    let_refreshes_go(stack, clock)
    view = stack.simulator.home_view("U0ALICE")
    assert "Your open cases (1)" in text_of(view)
    assert action_ids(view, case.id)[0] == "case_log_contact"


def test_a_refusal_in_home_opens_a_modal_and_the_refresh_drops_the_case(stack, clock):
    case = open_case(stack)
    view = open_home(stack, "U0ALICE")  # lists the case, unclaimed
    click(stack, "U0BOB", case, "case_claim")  # in the channel, before Alice's Home is refreshed
    press(stack, "U0ALICE", view, case.id, "case_claim")
    assert stack.runtime.repository.get_case(case.id).owner_id == "U0BOB"
    (modal,) = stack.simulator.open_views("U0ALICE")  # no response_url, no channel: a modal says why
    assert "U0BOB" in text_of(modal)
    assert not stack.simulator.ephemerals("U0ALICE")
    let_refreshes_go(stack, clock)
    home = stack.simulator.home_view("U0ALICE")
    assert action_ids(home, case.id) == [] and "Nothing waiting to be claimed" in text_of(home)


def test_close_from_home_submits_the_modal_and_the_case_leaves_the_home(stack, clock):
    case = open_case(stack)
    click(stack, "U0ALICE", case, "case_claim")
    view = open_home(stack, "U0ALICE")
    press(stack, "U0ALICE", view, case.id, "case_close")
    (modal,) = stack.simulator.open_views("U0ALICE")
    result = stack.slack.submit_view("U0ALICE", modal["id"], CLOSE_FORM)
    assert result.ok
    stack.settle()
    assert stack.runtime.repository.get_case(case.id).status == "closed"
    let_refreshes_go(stack, clock)
    text = text_of(stack.simulator.home_view("U0ALICE"))
    assert "Your open cases (0)" in text
    assert '"*Loops closed*\\n1"' in text


def test_a_hundred_open_cases_with_hostile_texts_stay_inside_slacks_limits(stack, clock):
    cases = stack.runtime.services.cases
    for number in range(100):
        answer = stack.post_feedback(
            payload(
                id=f"many-{number}",
                comment=HOSTILE,
                customer={"name": HOSTILE_NAME, "account": HOSTILE_NAME[::-1]},
            )
        )
        assert answer.status == 202, answer.body
        if number < 80:
            assert cases.claim(answer.body["case_id"], "U0ALICE").done
    stack.settle()
    view = open_home(stack, "U0ALICE")
    blocks = view["blocks"]
    assert len(blocks) <= 100
    assert len(json.dumps(view).encode()) <= 250_000
    text = text_of(view)
    assert "Your open cases (80)" in text and "…and 55 more" in text
    assert "(20)" in text and "…and 5 more waiting" in text
    for live in LIVE:
        assert live not in text
