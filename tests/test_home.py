"""The App Home end to end: opening it, its three parts, its buttons pressed in the published view,
and the refreshes changes owe it, through the simulated Slack."""

from __future__ import annotations

import json
import urllib.parse
from datetime import timedelta
from typing import Any

import pytest

from bot.devkit.local_stack import LocalStack
from bot.policy_file import parse_policy
from tests.factories import CLOSE_FORM, payload
from tests.support.clock import FakeClock
from tests.support.steps import click, open_case

MARKUP = "<!channel> <@U123> & <https://evil.example|Click here> "
HOSTILE = (MARKUP + "x" * 10_000)[:10_000]  # the longest comment the intake takes
HOSTILE_NAME = (MARKUP * 5)[:200]  # the longest name and account it takes
LIVE = ("<!channel>", "<@U123>", "<https://evil")


@pytest.fixture
def policy(raw_policy, request):
    """The example policy, with the sections a test's `policy` parameter changes."""
    for section, changes in getattr(request, "param", {}).items():
        raw_policy[section].update(changes)
    return parse_policy(raw_policy, "policy.yml")


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


def posted_cases(stack: LocalStack, clock: FakeClock, count: int, **overrides: Any) -> list[int]:
    """`count` responses arrive and their case messages are all posted (time passes for the
    channel's pace); their case ids."""
    ids = []
    for number in range(count):
        answer = stack.post_feedback(payload(id=f"burst-{number}", **overrides))
        assert answer.status == 202, answer.body
        ids.append(answer.body["case_id"])
    stack.settle()
    repository = stack.runtime.repository
    for _ in range(count):
        if all(repository.get_case(i).slack_ts for i in ids):
            break
        let_refreshes_go(stack, clock, seconds=10)
    assert all(repository.get_case(i).slack_ts for i in ids)
    return ids


def test_hand_over_from_home_refreshes_the_old_and_the_new_owners_home(stack, clock):
    case = open_case(stack)
    click(stack, "U0ALICE", case, "case_claim")
    alice = open_home(stack, "U0ALICE")
    assert "Your open cases (0)" in text_of(open_home(stack, "U0BOB"))
    press(stack, "U0ALICE", alice, case.id, "case_hand_over")
    (modal,) = stack.simulator.open_views("U0ALICE")
    result = stack.slack.submit_view("U0ALICE", modal["id"], {"person": "U0BOB", "reason": "On leave."})
    assert result.ok and result.json is None, result.body
    stack.settle()
    let_refreshes_go(stack, clock)
    assert "Your open cases (0)" in text_of(stack.simulator.home_view("U0ALICE"))
    bob = stack.simulator.home_view("U0BOB")
    assert "Your open cases (1)" in text_of(bob) and action_ids(bob, case.id)[0] == "case_log_contact"


def test_a_burst_of_thirty_changes_makes_one_publish_and_only_for_who_opened_home(stack, clock):
    ids = posted_cases(stack, clock, 30)
    open_home(stack, "U0ALICE")
    assert "Unclaimed in Customer Support* (30)" in text_of(stack.simulator.home_view("U0ALICE"))
    before = publishes(stack, "U0ALICE")
    for case_id in ids:  # Bob claims every one of them in the channel, one after another
        assert stack.runtime.services.cases.claim(case_id, "U0BOB").done
    stack.settle()
    let_refreshes_go(stack, clock)
    let_refreshes_go(stack, clock)
    assert publishes(stack, "U0ALICE") == before + 1
    assert "Nothing waiting to be claimed" in text_of(stack.simulator.home_view("U0ALICE"))
    assert publishes(stack, "U0BOB") == 0  # he never opened his Home: nothing to refresh


def test_a_new_case_refreshes_the_homes_listing_its_departments_queue(stack, clock):
    open_home(stack, "U0ALICE")  # support
    open_home(stack, "U0OMAR")  # billing
    omar = publishes(stack, "U0OMAR")
    case = open_case(stack, id="new-one")
    let_refreshes_go(stack, clock)
    assert action_ids(stack.simulator.home_view("U0ALICE"), case.id)[0] == "case_claim"
    assert publishes(stack, "U0OMAR") == omar


def test_many_viewers_are_refreshed_under_tier_4_without_a_429(stack, clock):
    people = [f"U9{number:04d}" for number in range(150)]
    for person in people:  # 150 people opened Home (they are in no department: every queue)
        stack.simulator.add_user(person, person.lower(), f"Person {person}")
        stack.runtime.home.opened(person)
    stack.settle()
    for _ in range(40):  # the pace lets about 10 go per 8 s (80 a minute after a burst of 10)
        published = {call.params["user_id"] for call in stack.simulator.calls_to("views.publish")}
        if published == set(people):
            break
        let_refreshes_go(stack, clock, seconds=8)
    calls = stack.simulator.calls_to("views.publish")
    assert {call.params["user_id"] for call in calls} == set(people)
    assert [call.http_status for call in calls] == [200] * len(calls)  # never a 429
    times = [call.at for call in calls]
    assert all(times[n + 100] - times[n] >= 60 for n in range(len(times) - 100))  # Tier 4: 100 a minute


def test_loop_mine_buttons_work_from_the_ephemeral_answer(stack, clock):
    case = open_case(stack)
    click(stack, "U0ALICE", case, "case_claim")
    stack.slack.slash_command("U0ALICE", case.slack_channel, "/loop", "mine")
    stack.settle()
    (answer,) = stack.simulator.ephemerals("U0ALICE")
    stack.runtime.services.cases.release(case.id, "U0ALICE")  # meanwhile, from the channel
    stack.settle()
    result = stack.slack.click(
        "U0ALICE", case.slack_channel, answer.ts, "case_release", block_id=f"case_actions_{case.id}"
    )
    assert result.ok
    stack.settle()
    (refusal,) = [r.payload for r in stack.simulator.responses if r.payload.get("replace_original") is False]
    assert refusal["response_type"] == "ephemeral" and "release" in refusal["text"], refusal
    assert not stack.simulator.open_views("U0ALICE")


def test_the_simulator_refuses_a_home_view_over_100_blocks(stack):
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(token=stack.simulator.bot_token, base_url=stack.simulator.api_url)
    view = {"type": "home", "blocks": [{"type": "divider"}] * 101}
    try:
        client.views_publish(user_id="U0ALICE", view=view)
    except SlackApiError as error:
        assert error.response["error"] == "invalid_arguments"
    else:
        raise AssertionError("a Home of 101 blocks was accepted")
    assert stack.simulator.take_violations()


def test_log_contact_and_release_pressed_in_home(stack, clock):
    case = open_case(stack)
    click(stack, "U0ALICE", case, "case_claim")
    view = open_home(stack, "U0ALICE")
    press(stack, "U0ALICE", view, case.id, "case_log_contact")
    (modal,) = stack.simulator.open_views("U0ALICE")
    assert stack.slack.submit_view("U0ALICE", modal["id"], {"channel": "phone", "note": "Called."}).ok
    stack.settle()
    assert stack.runtime.repository.get_case(case.id).status == "contacted"
    let_refreshes_go(stack, clock)
    view = stack.simulator.home_view("U0ALICE")
    press(stack, "U0ALICE", view, case.id, "case_release")
    assert stack.runtime.repository.get_case(case.id).owner_id is None
    let_refreshes_go(stack, clock)
    view = stack.simulator.home_view("U0ALICE")
    assert "Your open cases (0)" in text_of(view) and action_ids(view, case.id)[0] == "case_claim"


@pytest.mark.parametrize("policy", [{"privacy": {"mask_contact_details": True}}], indirect=True)
def test_contact_details_pressed_in_home_open_in_a_modal_for_the_owner_only(stack, clock):
    case = open_case(stack)
    click(stack, "U0ALICE", case, "case_claim")
    view = open_home(stack, "U0ALICE")
    assert "dana@example.com" not in text_of(view)  # Home shows the case as the channel does
    press(stack, "U0ALICE", view, case.id, "case_contact_details")
    (modal,) = stack.simulator.open_views("U0ALICE")
    assert "dana@example.com" in text_of(modal) and "only you see this" in text_of(modal)


def test_a_change_from_loop_mines_answer_replaces_the_answer_with_the_cases_as_they_are(stack, clock):
    first, second = open_case(stack, id="first"), open_case(stack, id="second")
    for case in (first, second):
        click(stack, "U0ALICE", case, "case_claim")
    stack.slack.slash_command("U0ALICE", first.slack_channel, "/loop", "mine")
    stack.settle()
    (answer,) = stack.simulator.ephemerals("U0ALICE")
    assert "Your open cases (2)" in text_of(answer.blocks)
    result = stack.slack.click(
        "U0ALICE", first.slack_channel, answer.ts, "case_release", block_id=f"case_actions_{first.id}"
    )
    assert result.ok
    stack.settle()
    assert stack.runtime.repository.get_case(first.id).owner_id is None
    (answer,) = stack.simulator.ephemerals("U0ALICE")  # replaced, not a second one
    assert "Your open cases (1)" in text_of(answer.blocks)
    assert f"case_actions_{first.id}" not in text_of(answer.blocks)


def test_a_429_holds_publishes_for_its_retry_after_then_the_home_goes_once(stack, clock):
    open_home(stack, "U0ALICE")
    before = publishes(stack, "U0ALICE")
    stack.simulator.inject_fault("views.publish", status=429)  # Retry-After: 1 (the simulator's)
    open_case(stack, id="during-429")
    let_refreshes_go(stack, clock)
    assert publishes(stack, "U0ALICE") == before + 1  # the refused one
    let_refreshes_go(stack, clock)
    calls = [c for c in stack.simulator.calls_to("views.publish") if c.params["user_id"] == "U0ALICE"]
    assert [c.http_status for c in calls[before:]] == [429, 200]
    assert "Unclaimed in Customer Support* (1)" in text_of(stack.simulator.home_view("U0ALICE"))


def test_a_home_another_process_holds_is_come_back_for_when_its_lease_ends(stack, clock):
    publisher, store = stack.runtime.home_publisher, stack.runtime.home.store
    store.opened("U0ALICE", clock())
    held = store.lease("U0ALICE", clock(), clock() + timedelta(seconds=30))  # "another process"
    assert held is not None
    asked: list[float] = []
    publisher.on_deferred = asked.append
    assert publisher.run() == 0
    assert asked and 29 <= asked[-1] <= 30  # not at once, over and over, while it is held
    clock.advance(seconds=31)
    assert publisher.run() == 1 and publishes(stack, "U0ALICE") == 1


def test_a_change_the_outbox_only_learns_of_at_its_sweep_still_refreshes_home(stack, clock):
    """After a crash between a change's commit and the outbox hearing of it, the case is still
    owed (its version), so the sweep brings its message and the Homes showing it up to date."""
    case = open_case(stack)
    view = open_home(stack, "U0ALICE")
    assert action_ids(view, case.id)[0] == "case_claim"
    assert stack.runtime.repository.claim(case.id, "U0BOB", clock()).applied  # nobody told the outbox
    let_refreshes_go(stack, clock)
    let_refreshes_go(stack, clock)
    assert action_ids(stack.simulator.home_view("U0ALICE"), case.id) == []


def test_a_deadline_passing_shows_on_home(stack, clock):
    case = open_case(stack)
    view = open_home(stack, "U0ALICE")
    assert "was due" not in text_of(view)
    clock.advance(hours=3)  # past the claim deadline of a high-priority detractor
    stack.sweep_deadlines()
    let_refreshes_go(stack, clock)
    view = stack.simulator.home_view("U0ALICE")
    assert "was due" in text_of(view) and action_ids(view, case.id)[0] == "case_claim"


def test_malformed_home_events_and_clicks_change_nothing(stack, clock):
    case = open_case(stack)
    counts = stack.runtime.repository.counts()
    for event in (
        {"type": "app_home_opened", "tab": "home"},  # no user
        {"type": "app_home_opened", "user": 42, "tab": "home"},
        {"type": "app_home_opened", "user": "", "tab": "home"},
        {"type": "app_home_opened", "user": "U0ALICE", "tab": "messages"},  # the Messages tab
    ):
        assert stack.slack.event(event).status in (200, 400)  # ignored, or refused as malformed: never 500
    stack.settle()
    assert stack.simulator.calls_to("views.publish") == []
    assert stack.runtime.home.store.due(clock() + timedelta(days=1), 10) == []
    view = open_home(stack, "U0ALICE")
    for value in ("not json", '{"c": "1", "v": []}', '{"c": 999999, "v": 1}', "x" * 2000):
        forged = {
            "type": "block_actions",
            "user": {"id": "U0ALICE"},
            "container": {"type": "view", "view_id": view["id"]},
            "view": view,
            "actions": [{"action_id": "case_claim", "block_id": f"case_actions_{case.id}", "value": value}],
        }
        body = f"payload={urllib.parse.quote(json.dumps(forged))}".encode()
        result = stack.slack.send_raw(body, "application/x-www-form-urlencoded")
        assert result.status == 200, result.body
    stack.settle()
    assert stack.runtime.repository.get_case(case.id).owner_id is None
    assert stack.runtime.repository.counts()["cases"] == counts["cases"]


def test_until_anyone_opens_home_changes_look_for_no_viewers(stack, clock, monkeypatch):
    store = stack.runtime.home.store
    looked: list[int] = []
    owe = store.owe_for_case
    monkeypatch.setattr(store, "owe_for_case", lambda case, due: looked.append(case.id) or owe(case, due))
    first = open_case(stack, id="nobody-looks")
    assert looked == []  # nobody has opened Home: no write per case
    store.opened("U0ALICE", clock())  # in another process
    open_case(stack, id="still-cached")
    assert looked == []  # this process asks again only after a few seconds
    clock.advance(seconds=6)
    second = open_case(stack, id="someone-looks")
    assert looked == [second.id] and first.id not in looked
