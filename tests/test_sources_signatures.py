"""Signatures and hostile input on the survey-tool routes and /feedback: Formbricks' Standard
Webhooks (one-element lists, the 5-minute window, replays, malformed headers, rotated keys, the
reference library's test vector), Standard Webhooks on /feedback as a third way to sign, and
malformed JSON, wrong types, huge bodies and hostile text: a clear 4xx, never a 500, nothing stored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.devkit.local_stack import post_to
from handlers.intake import MAX_BODY
from tests.factories import payload
from tests.support.examples import examples
from tests.support.sources import (
    EMPTY,
    SECRETS,
    VECTOR,
    VECTOR_BODY,
    VECTOR_KEY,
    encode,
    fixture,
    serve,
    standard_signature,
    tools,
)

__all__ = ["serve", "tools"]  # fixtures

FUZZ = settings(
    max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# --- Formbricks: Standard Webhooks, list bodies, stale timestamps ------------------------------------


def test_formbricks_sends_a_one_element_list_too_but_not_two_events_at_once(tools):
    listed = tools.post("formbricks", [fixture("formbricks")])
    assert listed.status == 202 and listed.body["status"] == "created", listed
    two = tools.post("formbricks", [fixture("formbricks"), fixture("formbricks")])
    assert two.status == 422 and "send one event per request" in two.body["fields"]["(body)"]


@pytest.mark.parametrize(
    ("offset", "phrase"), [(-301, "301 seconds old"), (301, "301 seconds in the future")]
)
def test_a_formbricks_timestamp_over_five_minutes_off_is_401(tools, offset, phrase):
    body = encode(fixture("formbricks"))
    answer = tools.post("formbricks", body, tools.headers("formbricks", body, at=tools.now(offset)))
    assert answer.status == 401 and phrase in answer.body["detail"], answer
    edge = tools.post("formbricks", body, tools.headers("formbricks", body, at=tools.now(-300)))
    assert edge.status == 202
    assert tools.counts()["feedback"] == 1


def test_a_captured_formbricks_request_replayed_after_the_window_is_refused(tools, clock):
    body = encode(fixture("formbricks"))
    captured = tools.headers("formbricks", body)
    assert tools.post("formbricks", body, captured).status == 202
    clock.advance(seconds=301)
    before = tools.counts()
    assert tools.post("formbricks", body, captured).status == 401
    assert tools.counts() == before


@pytest.mark.parametrize(
    ("change", "phrase"),
    [
        (lambda h: {k: v for k, v in h.items() if k != "webhook-id"}, "webhook-id missing"),
        (lambda h: {**h, "webhook-timestamp": "yesterday"}, "whole seconds"),
        (lambda h: {**h, "webhook-signature": "v1,not-base64!"}, "does not match"),
        (lambda h: {**h, "webhook-signature": "v2," + h["webhook-signature"][3:]}, "does not match"),
        (lambda h: {**h, "webhook-signature": "garbage"}, "does not match"),
        (lambda h: {**h, "webhook-id": "x" * 201}, "longer than 200"),
    ],
)
def test_malformed_standard_webhooks_headers_are_401_never_500(tools, change, phrase):
    body = encode(fixture("formbricks"))
    answer = tools.post("formbricks", body, change(tools.headers("formbricks", body)))
    assert answer.status == 401 and phrase in answer.body["detail"], answer
    assert tools.counts() == EMPTY


def test_a_rotated_key_signature_list_is_accepted_when_one_matches(tools):
    body = encode(fixture("formbricks"))
    headers = tools.headers("formbricks", body)
    headers["webhook-signature"] = (
        "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " + headers["webhook-signature"]
    )
    assert tools.post("formbricks", body, headers).status == 202


def test_the_standard_webhooks_libraries_test_vector_verifies_on_formbricks_and_on_feedback(serve, stack):
    """The spec library's published signature, at its own timestamp (the endpoint's clock)."""
    vector_time = lambda: datetime.fromtimestamp(1614265330, UTC)  # noqa: E731
    tools = serve(endpoint_clock=vector_time)
    vector_tools = serve(endpoint_clock=vector_time, secrets={**SECRETS, "formbricks": VECTOR_KEY})
    # Verified: the body is no Formbricks event (ignored), and no closeloop response (422).
    assert vector_tools.post("formbricks", VECTOR_BODY, dict(VECTOR)).body == {
        "status": "ignored",
        "detail": "no event: closeloop stores responseCreated, responseUpdated, responseFinished",
    }
    feedback = tools.post("formbricks", VECTOR_BODY, dict(VECTOR), path="/feedback")
    assert feedback.status == 422, feedback
    forged = {**VECTOR, "webhook-signature": VECTOR["webhook-signature"][:-2] + "A="}
    assert tools.post("formbricks", VECTOR_BODY, forged, path="/feedback").status == 401
    assert (
        standard_signature(VECTOR_KEY, VECTOR["webhook-id"], VECTOR["webhook-timestamp"], VECTOR_BODY)
        == (VECTOR["webhook-signature"])
    )
    assert stack.runtime.repository.counts() == EMPTY


# --- Standard Webhooks on /feedback itself ----------------------------------------------------------


def test_feedback_accepts_a_standard_webhooks_signature_as_a_third_way(tools, clock):
    body = encode(payload(id="sw-1"))
    headers = tools.headers("formbricks", body, secret=VECTOR_KEY)
    answer = tools.post("formbricks", body, headers, path="/feedback")
    assert answer.status == 202 and answer.body["status"] == "created", answer
    wrong = tools.headers("formbricks", body, secret=SECRETS["formbricks"])
    refused = tools.post("formbricks", body, wrong, path="/feedback")
    assert refused.status == 401 and "webhook-signature does not match" in refused.body["detail"]
    stale = tools.headers("formbricks", body, secret=VECTOR_KEY, at=tools.now(-301))
    assert "301 seconds old" in tools.post("formbricks", body, stale, path="/feedback").body["detail"]
    assert tools.counts()["feedback"] == 1


def test_feedback_without_a_webhook_secret_says_which_variable_enables_it(stack):
    body = encode(payload(id="sw-2"))
    headers = {
        "Content-Type": "application/json",
        "webhook-id": "m1",
        "webhook-timestamp": "1",
        "webhook-signature": "v1,AA==",
    }
    answer = post_to(f"{stack.server.url}/feedback", body, headers)
    assert answer.status == 401 and "CLOSELOOP_INTAKE_WEBHOOK_SECRET is not set" in answer.body["detail"]


# --- hostile input: clear 4xx, never 500, nothing stored ---------------------------------------------


@pytest.mark.parametrize("tool", sorted(SECRETS))
def test_malformed_json_is_400_and_a_huge_body_is_refused(tools, tool):
    for broken in (b"{not json", b"[1, 2", b'{"a": NaN}', b"\xff\xfe"):
        answer = tools.post(tool, broken)
        assert answer.status in (400, 401), (broken, answer)  # 401: Standard Webhooks needs UTF-8 to verify
        if answer.status == 400:
            assert answer.body["error"] == "invalid_json"
    huge = encode({**fixture(tool), "padding": "x" * MAX_BODY})
    answer = tools.post(tool, huge)
    assert answer.status in (401, 413), answer  # a signature cannot be verified on a body not read
    assert tools.counts() == EMPTY


WRONG_TYPES = [
    ("typeform", lambda b: {**b, "form_response": "a string"}, "form_response"),
    (
        "typeform",
        lambda b: {
            **b,
            "form_response": {
                **b["form_response"],
                "answers": [{**b["form_response"]["answers"][0], "number": "four"}],
            },
        },
        "form_response.answers[ref=recommend].number",
    ),
    ("formbricks", lambda b: {**b, "data": {**b["data"], "data": {"q_nps": True}}}, "data.data.q_nps"),
    ("formbricks", lambda b: {**b, "data": [1, 2]}, "data"),
    ("wootric", lambda b: {**b, "survey_mode": "STAR"}, "survey_mode"),
    ("wootric", lambda b: {**b, "response": {**b["response"], "score": 11}}, "score"),
    ("asknicely", lambda b: {**b, "question": {**b["question"], "score": "3.5"}}, "question.score"),
    ("zendesk", lambda b: {**b, "rating": "Meh"}, "rating"),
    ("zendesk", lambda b: {**b, "comment": "x" * 10_001}, "comment"),
]


@pytest.mark.parametrize(
    ("tool", "change", "field"), WRONG_TYPES, ids=[f"{t}-{f}" for t, _, f in WRONG_TYPES]
)
def test_wrong_types_are_422_naming_the_field(tools, tool, change, field):
    answer = tools.post(tool, change(fixture(tool)))
    assert answer.status == 422, answer
    assert field in answer.body["fields"], answer.body
    assert tools.counts() == EMPTY


def test_hostile_customer_text_is_stored_as_sent_and_escaped_in_slack(tools):
    body = fixture("zendesk")
    body["comment"] = "<!channel> <@U123> & *bold* " + "y" * 9_000
    body["requester"]["name"] = "<!here> Mallory & Co"
    answer = tools.post("zendesk", body)
    stored = tools.stored(answer)
    assert stored.comment.startswith("<!channel> <@U123> &")
    tools.stack.settle()
    case = tools.stack.runtime.repository.get_case(answer.body["case_id"])
    posted = json.dumps(tools.stack.simulator.message(case.slack_channel, case.slack_ts).blocks)
    assert "<!channel>" not in posted and "<@U123>" not in posted and "<!here>" not in posted


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=10,
)


@FUZZ
@given(
    tool=st.sampled_from(sorted(SECRETS)),
    body=json_values,
    keys=st.dictionaries(
        st.sampled_from(
            ["event", "event_type", "data", "form_response", "response", "question", "ticket_id", "rating"]
        ),
        json_values,
        max_size=4,
    ),
)
def test_any_signed_json_gets_a_clear_answer_never_a_500(tools, tool, body, keys):
    sent = {**keys} if keys else body
    answer = tools.post(tool, sent)
    assert answer.status in (200, 202, 400, 422), (sent, answer)
