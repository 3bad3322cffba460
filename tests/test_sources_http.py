"""POST /feedback/<tool> over real HTTP, per tool: each survey tool's documented body, signed the
way the tool signs it, is stored once with its case; forgeries, routes without their secret,
events with no response and bodies missing their score or id store nothing; the update sequence of
one response (score first, comment later, finished last) makes one response and one case, even
when its events arrive at the same instant; Wootric's form encoding and unsigned accounts.

The harness (bodies, signing, the endpoints in front of the stack) is tests/support/sources.py.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.devkit.local_stack import post_to
from bot.domain.sources import FormbricksSource, Sources, TypeformSource
from tests.support.race import race
from tests.support.sources import EMPTY, SECRETS, encode, fixture, serve, tools

__all__ = ["serve", "tools"]  # fixtures


# --- each tool, valid ------------------------------------------------------------------------------

EXPECTED = {  # tool: (external id, survey, score, comment, email)
    "typeform": (
        "typeform:tf-resp-7f3a9c",
        "nps",
        4,
        "Invoices arrive late every month.",
        "rosa@kestrel.example",
    ),
    "formbricks": (
        "formbricks:fb-resp-31c8",
        "nps",
        2,
        "The mobile app logs me out every day.",
        "ivo@lindqvist.example",
    ),
    "wootric": ("wootric:90817", "nps", 5, "Support took three days to answer.", "mei@okafor.example"),
    "asknicely": (
        "asknicely:552901",
        "nps",
        3,
        "Onboarding calls keep getting cancelled.",
        "tomas@brandt.example",
    ),
    "zendesk": ("zendesk:48213", "csat", 1, "Nobody read my ticket before closing it.", "aiko@sato.example"),
}


@pytest.mark.parametrize("tool", sorted(EXPECTED))
def test_a_signed_webhook_is_stored_once_with_its_case_posted(tools, tool):
    answer = tools.post(tool, fixture(tool))
    assert answer.body["status"] == "created" and answer.body["category"] == "detractor", answer
    stored = tools.stored(answer)
    external_id, survey, score, comment, email = EXPECTED[tool]
    assert (stored.external_id, stored.survey, stored.score, stored.comment) == (
        external_id,
        survey,
        score,
        comment,
    )
    assert stored.customer_email == email
    assert stored.raw["source"]["tool"] == tool  # the tool's own body is kept, nothing it sent is lost
    again = tools.post(tool, fixture(tool))
    assert again.status == 202 and again.body["status"] == "unchanged"
    assert again.body["case_id"] == answer.body["case_id"]
    tools.stack.settle()
    case = tools.stack.runtime.repository.get_case(answer.body["case_id"])
    assert case.slack_ts is not None  # posted to the department's channel
    assert tools.counts()["feedback"] == 1 and tools.counts()["cases"] == 1


def test_each_tool_maps_its_customer_fields(tools):
    typeform = tools.stored(tools.post("typeform", fixture("typeform")))
    assert (typeform.customer_id, typeform.customer_name, typeform.customer_segment) == (
        "cus-4410",
        "Rosa Kestrel",
        "enterprise",
    )
    formbricks = tools.stored(tools.post("formbricks", fixture("formbricks")))
    assert (formbricks.customer_id, formbricks.customer_name, formbricks.language) == (
        "cus-5120",
        "Ivo Lindqvist",
        "en",
    )
    wootric = tools.stored(tools.post("wootric", fixture("wootric")))
    assert (wootric.customer_id, wootric.customer_segment) == (
        "cus-7731",
        "business",
    )  # sources.wootric.segment_property
    asknicely = tools.stored(tools.post("asknicely", fixture("asknicely")))
    assert (asknicely.customer_id, asknicely.customer_name, asknicely.customer_segment) == (
        "77120",
        "Tomas Brandt",
        "smb",
    )
    assert asknicely.submitted_at.astimezone(UTC) == datetime.fromtimestamp(1763887220, UTC)
    zendesk = tools.stored(tools.post("zendesk", fixture("zendesk")))
    assert (zendesk.customer_account, tuple(zendesk.tags)) == ("Sato Logistics", ("billing", "refund", "vip"))


def test_a_good_zendesk_rating_is_csat_5_and_a_wootric_csat_survey_is_csat(tools):
    good = {**fixture("zendesk"), "ticket_id": "48214", "rating": "Good, I'm satisfied"}
    assert tools.stored(tools.post("zendesk", good)).score == 5
    csat = fixture("wootric")
    csat["survey_mode"] = "CSAT"
    csat["response"]["score"] = 2
    stored = tools.stored(tools.post("wootric", csat))
    assert (stored.survey, stored.score) == ("csat", 2)


# --- refusals store nothing --------------------------------------------------------------------------


FORGERIES = [
    (tool, forgery)
    for tool in sorted(SECRETS)
    for forgery in ("wrong secret", "tampered body", "no signature")
    if (tool, forgery) != ("asknicely", "tampered body")  # AskNicely signs nothing: its token is all
]


@pytest.mark.parametrize(("tool", "forgery"), FORGERIES)
def test_a_forged_webhook_is_401_and_stores_nothing(tools, tool, forgery):
    body = encode(fixture(tool))
    headers = tools.headers(tool, body, secret=SECRETS[tool][::-1] if forgery == "wrong secret" else None)
    if forgery == "tampered body":
        body = body.replace(b"detractor", b"x").replace(b'"3"', b'"9"').replace(b": 4", b": 9")
        body = body.replace(b": 2,", b": 9,").replace(b": 5,", b": 9,").replace(b"Bad", b"Good")
    if forgery == "no signature":
        headers = {}
    answer = tools.post(tool, body, headers)
    assert answer.status == 401, answer
    assert answer.body["error"] == "unauthorized" and answer.body["detail"]
    assert SECRETS[tool] not in json.dumps(answer.body)
    assert tools.counts() == EMPTY


def test_a_route_whose_secret_is_not_set_is_404_naming_the_variable(stack):
    """The stack's own server: its settings carry no tool secrets, so every route is off."""
    for tool in sorted(SECRETS):
        answer = post_to(
            f"{stack.server.url}/feedback/{tool}", encode(fixture(tool)), {"Content-Type": "application/json"}
        )
        assert answer.status == 404, answer
        assert answer.body["error"] == "not_enabled"
        assert f"set CLOSELOOP_{tool.upper()}_SECRET to turn it on" in answer.body["detail"]
    unknown = post_to(
        f"{stack.server.url}/feedback/surveymonkey", b"{}", {"Content-Type": "application/json"}
    )
    assert unknown.status == 404 and "/feedback/typeform" in unknown.body["detail"]
    assert stack.runtime.repository.counts() == EMPTY


IGNORED = {
    "typeform": lambda body: {**body, "event_type": "form_deleted"},
    "formbricks": lambda body: {**body, "event": "responseDeleted"},
    "wootric": lambda body: {"decline": body["response"], "event_name": "created", "survey_mode": "NPS"},
    "zendesk": lambda body: {**body, "event": "ticket_solved"},
}


@pytest.mark.parametrize("tool", sorted(IGNORED))
def test_an_event_that_is_not_a_response_is_200_ignored_and_stores_nothing(tools, tool):
    answer = tools.post(tool, IGNORED[tool](fixture(tool)))
    assert answer.status == 200, answer
    assert answer.body["status"] == "ignored" and answer.body["detail"]
    assert tools.counts() == EMPTY


def test_other_wootric_events_and_an_unrated_zendesk_survey_are_ignored(tools):
    deleted = {**fixture("wootric"), "event_name": "deleted"}
    assert tools.post("wootric", deleted).body["status"] == "ignored"
    offered = {**fixture("zendesk"), "rating": "Offered"}
    assert tools.post("zendesk", offered).body["status"] == "ignored"
    assert tools.counts() == EMPTY


def _without(body: dict, *path: str) -> dict:
    body = copy.deepcopy(body)
    node = body
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return body


MISSING = [
    ("typeform", lambda b: _without(b, "form_response", "token"), "form_response.token"),
    (
        "typeform",
        lambda b: {
            **b,
            "form_response": {**b["form_response"], "answers": b["form_response"]["answers"][1:]},
        },
        "form_response.answers",
    ),
    ("formbricks", lambda b: _without(b, "data", "id"), "data.id"),
    ("formbricks", lambda b: _without(b, "data", "data", "q_nps"), "data.data"),
    ("wootric", lambda b: _without(b, "response", "id"), "response.id"),
    ("wootric", lambda b: _without(b, "response", "score"), "response.score"),
    ("asknicely", lambda b: _without(b, "question", "id"), "question.id"),
    ("asknicely", lambda b: {**b, "question": {**b["question"], "score": ""}}, "question.score"),
    ("zendesk", lambda b: _without(b, "ticket_id"), "ticket_id"),
    ("zendesk", lambda b: _without(b, "rating"), "rating"),
]


@pytest.mark.parametrize(("tool", "change", "field"), MISSING, ids=[f"{t}-{f}" for t, _, f in MISSING])
def test_a_missing_score_or_id_is_422_naming_the_field_and_stores_nothing(tools, tool, change, field):
    answer = tools.post(tool, change(fixture(tool)))
    assert answer.status == 422, answer
    assert answer.body["error"] == "invalid_feedback"
    assert list(answer.body["fields"]) == [field], answer.body
    assert tools.counts() == EMPTY


def test_a_policy_key_naming_a_question_the_payload_lacks_names_the_key_and_the_ids_it_has(serve):
    tools = serve(
        Sources(
            typeform=TypeformSource(score_ref="nps_score"),
            formbricks=FormbricksSource(score_question="q_recommend"),
        )
    )
    typeform = tools.post("typeform", fixture("typeform"))
    assert typeform.status == 422
    (problem,) = typeform.body["fields"].items()
    assert problem[0] == "sources.typeform.score_ref"
    # one line: the wrong id, the ids the payload has, and the key to change
    assert "'nps_score' is not a question of form Qx7Fm2" in problem[1] and "recommend, why" in problem[1]
    assert problem[1].endswith("— set sources.typeform.score_ref in the policy to one of them")
    assert "\n" not in problem[1]
    formbricks = tools.post("formbricks", fixture("formbricks"))
    assert formbricks.status == 422
    detail = formbricks.body["fields"]["data.data"]
    assert "'q_recommend'" in detail and "q_nps, q_why" in detail
    assert detail.endswith(
        "— if 'q_recommend' is not the score question's id, set sources.formbricks.score_question to it"
    )
    assert "\n" not in detail
    assert tools.counts() == EMPTY


# --- the update sequence: score first, comment later, finished last ---------------------------------


def _formbricks(event: str, answers: dict, finished: bool) -> dict:
    body = fixture("formbricks")
    body["event"], body["data"]["data"], body["data"]["finished"] = event, answers, finished
    return body


def _typeform(event: str, answers: list) -> dict:
    body = fixture("typeform")
    body["event_type"] = event
    body["form_response"]["answers"] = [body["form_response"]["answers"][index] for index in answers]
    return body


SEQUENCES = {
    "formbricks": [
        _formbricks("responseCreated", {"q_nps": 2}, False),
        _formbricks("responseUpdated", {"q_nps": 2, "q_why": "The mobile app logs me out every day."}, False),
        _formbricks("responseFinished", {"q_nps": 2, "q_why": "The mobile app logs me out every day."}, True),
    ],
    "typeform": [
        _typeform("form_response_partial", [0]),
        _typeform("form_response_partial", [0, 1]),
        _typeform("form_response", [0, 1]),
    ],
    "wootric": [
        {**fixture("wootric"), "response": {**fixture("wootric")["response"], "text": None}},
        {**fixture("wootric"), "event_name": "updated"},
    ],
    "asknicely": [
        {**fixture("asknicely"), "question": {**fixture("asknicely")["question"], "comment": ""}},
        {**fixture("asknicely"), "count": 2},
    ],
}


@pytest.mark.parametrize("tool", sorted(SEQUENCES))
def test_score_first_comment_later_and_finished_last_make_one_response_and_one_case(tools, tool):
    answers = [tools.post(tool, body) for body in SEQUENCES[tool]]
    assert [a.status for a in answers] == [202] * len(answers), answers
    assert answers[0].body["status"] == "created"
    assert all(a.body["status"] == "updated" for a in answers[1:]), answers
    assert len({a.body["case_id"] for a in answers}) == 1
    stored = tools.stored(answers[-1])
    assert stored.comment == EXPECTED[tool][3]
    assert (tools.counts()["feedback"], tools.counts()["cases"]) == (1, 1)
    tools.stack.settle()
    case = tools.stack.runtime.repository.get_case(answers[0].body["case_id"])
    assert case.comment == EXPECTED[tool][3]
    message = tools.stack.simulator.message(case.slack_channel, case.slack_ts)
    assert EXPECTED[tool][3][:20] in json.dumps(message.blocks)  # the case message shows the comment
    assert len([m for m in tools.stack.simulator.messages(case.slack_channel) if not m.thread_ts]) == 1


# --- Wootric's form encoding and its unsigned accounts -----------------------------------------------


def _flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [pair for key, item in value.items() for pair in _flatten(f"{prefix}[{key}]", item)]
    return [(prefix, "" if value is None else str(value).lower() if isinstance(value, bool) else str(value))]


def wootric_form(body: dict) -> bytes:
    pairs = [pair for key, value in body.items() for pair in _flatten(key, value) if "[" in pair[0]]
    pairs += [(key, str(value)) for key, value in body.items() if not isinstance(value, dict)]
    return urlencode(pairs).encode()


def test_wootric_form_encoded_responses_are_read_like_json(tools):
    body = fixture("wootric")
    body["response"]["score"] = 7
    form = wootric_form(body)
    assert (
        b"response%5Bscore%5D=7" in form and b"response%5Bend_user_properties%5D%5Bplan%5D=business" in form
    )
    headers = {**tools.headers("wootric", form), "Content-Type": "application/x-www-form-urlencoded"}
    answer = post_to(f"{tools.url}/feedback/wootric", form, headers)
    assert answer.status == 202 and answer.body["category"] == "passive", answer
    stored = tools.stored(answer)
    assert (stored.score, stored.customer_segment, stored.customer_email) == (
        7,
        "business",
        "mei@okafor.example",
    )
    clash = b"response=1&response%5Bscore%5D=2"
    headers = {**tools.headers("wootric", clash), "Content-Type": "application/x-www-form-urlencoded"}
    refused = post_to(f"{tools.url}/feedback/wootric", clash, headers)
    assert refused.status == 400 and refused.body["error"] == "invalid_form", refused
    assert tools.counts()["feedback"] == 1


def test_an_unsigned_wootric_account_sends_the_secret_as_the_urls_token(tools):
    body = encode(fixture("wootric"))
    json_type = {"Content-Type": "application/json"}
    answer = post_to(f"{tools.url}/feedback/wootric?token={SECRETS['wootric']}", body, json_type)
    assert answer.status == 202, answer
    wrong = post_to(f"{tools.url}/feedback/wootric?token=not-the-token", body, json_type)
    assert wrong.status == 401 and "token does not match" in wrong.body["detail"]
    neither = post_to(f"{tools.url}/feedback/wootric", body, json_type)
    assert neither.status == 401 and "?token=<CLOSELOOP_WOOTRIC_SECRET>" in neither.body["detail"]


# --- a tool firing its events for one response at the same instant -----------------------------------


@pytest.mark.backends("sqlite", "postgresql")
def test_a_tools_events_for_one_response_arriving_at_once_make_one_response_and_one_case(tools):
    """Formbricks fires responseCreated, responseUpdated and responseFinished within moments: real
    threads posting them together still leave one response and one case (the unique key decides)."""
    bodies = SEQUENCES["formbricks"] * 2
    answers = race(len(bodies), lambda index: tools.post("formbricks", bodies[index]))
    assert all(answer.status == 202 for answer in answers), answers
    assert sum(answer.body["status"] == "created" for answer in answers) == 1
    assert len({answer.body["case_id"] for answer in answers}) == 1
    assert (tools.counts()["feedback"], tools.counts()["cases"]) == (1, 1)
    tools.stack.settle()
    case = tools.stack.runtime.repository.get_case(answers[0].body["case_id"])
    assert case.comment == EXPECTED["formbricks"][3]  # whichever order they landed in: none erases it
    assert len([m for m in tools.stack.simulator.messages(case.slack_channel) if not m.thread_ts]) == 1
