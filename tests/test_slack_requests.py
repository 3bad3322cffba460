"""Requests to /slack/events that are forged, stale or malformed: 401 or a calm answer, never a
500, and never a change to the database."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.examples import examples
from tests.support.steps import open_case

FUZZ = settings(
    max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def click_body(case, action_id="case_claim", value=None, user="U0ALICE") -> bytes:
    body = {
        "type": "block_actions",
        "user": {"id": user, "username": "alice", "team_id": "T0SIM"},
        "team": {"id": "T0SIM", "domain": "sim"},
        "api_app_id": "A0SIM",
        "trigger_id": "1.2.abc",
        "container": {"type": "message", "message_ts": case.slack_ts, "channel_id": case.slack_channel},
        "channel": {"id": case.slack_channel, "name": "support"},
        "actions": [
            {
                "action_id": action_id,
                "block_id": "case_actions",
                "type": "button",
                "value": value if value is not None else json.dumps({"c": case.id, "v": case.version}),
            }
        ],
    }
    return urlencode({"payload": json.dumps(body)}).encode()


FORM = "application/x-www-form-urlencoded"


def test_a_correctly_signed_raw_click_works(stack):
    """The control for the forgeries below: the same body, properly signed, claims the case."""
    case = open_case(stack)
    assert stack.slack.send_raw(click_body(case), FORM).status == 200
    stack.settle()
    assert stack.runtime.repository.get_case(case.id).owner_id == "U0ALICE"


def test_forged_and_stale_signatures_are_refused_and_change_nothing(stack):
    case = open_case(stack)
    body = click_body(case)
    assert stack.slack.send_raw(body, FORM, signature="v0=" + "0" * 64).status == 401
    assert stack.slack.send_raw(body, FORM, signature="").status == 401
    six_minutes_ago = int(time.time()) - 360
    old_signature = stack.slack.sign(body, str(six_minutes_ago))
    assert stack.slack.send_raw(body, FORM, signature=old_signature, timestamp=six_minutes_ago).status == 401
    # A valid signature over a different body does not carry over.
    other = click_body(case, user="U0BOB")
    assert (
        stack.slack.send_raw(body, FORM, signature=stack.slack.sign(other, str(int(time.time())))).status
        == 401
    )
    stack.settle()
    assert stack.runtime.repository.get_case(case.id).owner_id is None
    assert stack.runtime.repository.history(case.id)[-1].kind == "created"


def test_malformed_button_values_are_ignored_calmly(stack, caplog):
    case = open_case(stack)
    before = stack.runtime.repository.counts()
    for value in ("", "not json", "[]", '{"c": "one", "v": 1}', '{"x": 1}'):
        assert stack.slack.send_raw(click_body(case, value=value), FORM).status == 200
    stack.settle()
    assert stack.runtime.repository.counts() == before
    assert stack.runtime.repository.get_case(case.id).owner_id is None
    assert stack.simulator.ephemerals() == []  # nothing to tell: the click was not ours
    assert [r.levelname for r in caplog.records if r.levelname == "ERROR"] == []


def test_a_click_on_a_case_that_no_longer_exists_is_explained(stack, caplog):
    case = open_case(stack)
    for action in ("case_claim", "case_release", "case_close", "case_log_contact"):
        assert stack.slack.send_raw(click_body(case, action_id=action, value='{"c": 99999, "v": 1}'), FORM).ok
    stack.settle()
    assert [e.text for e in stack.simulator.ephemerals("U0ALICE")] == ["This case no longer exists."] * 4
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []


def test_unknown_actions_and_garbage_bodies_never_500(stack):
    case = open_case(stack)
    before = stack.runtime.repository.counts()
    answers = [
        stack.slack.send_raw(click_body(case, action_id="no_such_button"), FORM).status,
        stack.slack.send_raw(b"payload=%7Bnot-json", FORM).status,
        stack.slack.send_raw(b"", FORM).status,
        stack.slack.send_raw(b'{"type": ', "application/json").status,
        stack.slack.send_raw(b"\xff\xfe", FORM, signature="v0=00").status,
        stack.slack.send_raw(
            urlencode({"payload": json.dumps({"type": "block_actions"})}).encode(), FORM
        ).status,
    ]
    stack.settle()
    assert all(status < 500 for status in answers), answers
    assert stack.runtime.repository.counts() == before


interaction_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


@FUZZ
@given(
    mutation=st.sampled_from(["user", "actions", "channel", "container", "type", "view", "trigger_id"]),
    value=interaction_values,
)
def test_interaction_payloads_with_any_field_broken_never_500(stack, mutation, value):
    case = stack.runtime.repository.find_case(1) or open_case(stack)
    body = json.loads(parse_qs(click_body(case).decode())["payload"][0])
    body[mutation] = value
    before = stack.runtime.repository.counts()
    answer = stack.slack.send_raw(urlencode({"payload": json.dumps(body)}).encode(), FORM)
    stack.settle()
    assert answer.status < 500
    after = stack.runtime.repository.counts()
    # Either nothing happened, or (when the mutation left a valid click) exactly one claim.
    assert after == before or after["case_events"] == before["case_events"] + 1


def test_the_events_url_verification_challenge_is_answered(stack):
    result = stack.slack.url_verification("a-challenge-123")
    assert result.status == 200 and "a-challenge-123" in result.body


# Both backends: the retry is caught by a unique-key conflict on event_id (storage/slack_events.py).
@pytest.mark.backends("sqlite", "postgresql")
def test_slacks_retry_of_an_event_is_acknowledged_but_not_acted_on_twice(stack):
    event = {"type": "app_home_opened", "user": "U0ALICE", "tab": "home", "channel": "D0ALICE"}
    first = stack.slack.event(event, event_id="Ev0RETRIED")
    stack.settle()
    retry = stack.slack.event(event, event_id="Ev0RETRIED", retry_num=1)
    stack.settle()
    assert (first.status, retry.status) == (200, 200)
    assert len(stack.simulator.calls_to("views.publish")) == 1
    stack.slack.event(event, event_id="Ev0ANOTHER")
    stack.settle()
    assert len(stack.simulator.calls_to("views.publish")) == 2


def test_an_event_that_is_not_an_object_is_ignored_without_an_error(stack, caplog):
    import json as _json

    body = {"type": "event_callback", "event_id": "Ev0ODD", "team_id": "T0SIM", "event": "surprise"}
    result = stack.slack.send_raw(_json.dumps(body).encode(), "application/json")
    stack.settle()
    assert result.status == 200
    assert [r for r in caplog.records if r.levelname == "ERROR"] == []
