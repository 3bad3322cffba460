"""POST /feedback/<tool> over real HTTP: each survey tool's body, signed the way the tool signs it,
reaches the stack's intake and database; forgeries, stale timestamps, unknown events and bodies
missing their score or id store nothing; the update sequence of a response makes one case.

The bodies are tests/fixtures/sources/*.json, written from each tool's documented field list.
The endpoints are the real Router, IntakeEndpoint and SourceEndpoint on a port-0 server, in front
of the stack's database, outbox and simulated Slack, with an intake whose policy maps the tools'
questions (the example policy has no `sources:` section). Signatures are computed here, as each
tool documents them, independently of handlers.signatures.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app.intake import IntakeService
from bot.app.sources import SourceIntake
from bot.devkit.local_stack import HttpAnswer, post_to
from bot.domain.policy import Policy
from bot.domain.sources import FormbricksSource, Sources, TypeformSource, WootricSource
from bot.server import HttpServer
from bot.web import Router
from handlers.intake import MAX_BODY, IntakeEndpoint
from handlers.intake_sources import SourceEndpoint
from tests.factories import payload
from tests.support.examples import examples
from tests.support.race import race

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
SECRETS = {
    "typeform": "typeform-secret-for-tests-0123",
    "formbricks": "whsec_" + base64.b64encode(b"formbricks-test-key-of-32-bytes!").decode(),
    "wootric": "wootric-secret-for-tests-0123",
    "asknicely": "asknicely-token-for-tests-0123",
    "zendesk": "zendesk-signing-secret-for-tests",
}
# The Standard Webhooks reference library's own test key (libraries/python/tests/test_webhooks.py).
VECTOR_KEY = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR = {
    "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "webhook-timestamp": "1614265330",
    "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
}
VECTOR_BODY = b'{"test": 2432232314}'
SOURCES = Sources(
    typeform=TypeformSource(score_ref="recommend", comment_ref="why"),
    formbricks=FormbricksSource(score_question="q_nps", comment_question="q_why"),
    wootric=WootricSource(segment_property="plan"),
)
EMPTY = {"feedback": 0, "cases": 0, "case_events": 0, "deliveries": 0}
FUZZ = settings(
    max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def fixture(tool: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{tool}.json").read_text())


def encode(body: Any) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def standard_signature(key: str, message_id: str, timestamp: str, body: bytes) -> str:
    secret = base64.b64decode(key.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(secret, signed, hashlib.sha256).digest()).decode()


class Tools:
    """Sends each tool's webhook to the endpoints, signed as the tool signs it."""

    def __init__(self, url: str, stack, clock) -> None:
        self.url, self.stack, self.clock = url, stack, clock
        self.sent = 0

    def now(self, seconds: float = 0) -> str:
        return str(int(self.clock.timestamp() + seconds))

    def headers(self, tool: str, body: bytes, *, secret: str | None = None, at: str | None = None) -> dict:
        secret = SECRETS[tool] if secret is None else secret
        if tool == "typeform":
            digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
            return {"Typeform-Signature": "sha256=" + base64.b64encode(digest).decode()}
        if tool == "wootric":
            return {
                "X-Wootric-Signature": "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
            }
        if tool == "asknicely":
            return {"Authorization": f"Bearer {secret}"}
        if tool == "zendesk":
            stamp = at or "2026-11-23T09:00:00Z"
            digest = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
            return {
                "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
                "X-Zendesk-Webhook-Signature-Timestamp": stamp,
            }
        self.sent += 1
        message_id, timestamp = f"msg_{self.sent:04d}", at or self.now()
        return {
            "webhook-id": message_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": standard_signature(secret, message_id, timestamp, body),
        }

    def post(
        self, tool: str, body: Any, headers: dict | None = None, *, path: str | None = None
    ) -> HttpAnswer:
        data = encode(body)
        sent = {
            "Content-Type": "application/json",
            **(self.headers(tool, data) if headers is None else headers),
        }
        return post_to(f"{self.url}{path or '/feedback/' + tool}", data, sent)

    def counts(self) -> dict[str, int]:
        return self.stack.runtime.repository.counts()

    def stored(self, answer: HttpAnswer):
        assert answer.status == 202, answer
        return self.stack.runtime.repository.feedback(answer.body["feedback_id"])


Serve = Callable[..., Tools]


@pytest.fixture
def serve(stack, clock, policy: Policy) -> Iterator[Serve]:
    """`serve(sources=…, clock=…)`: the endpoints over an intake whose policy has `sources`."""
    servers: list[HttpServer] = []

    def start(
        sources: Sources = SOURCES,
        endpoint_clock: Callable[[], datetime] | None = None,
        secrets: dict[str, str] | None = None,
    ) -> Tools:
        runtime = stack.runtime
        mapped = policy.model_copy(update={"sources": sources})
        intake = IntakeService(
            runtime.repository, mapped, clock, lambda outcome: runtime.outbox_queue.request(outcome.case_id)
        )
        router = Router(
            runtime.bolt_app,
            IntakeEndpoint(intake, stack.intake_token, webhook_secret=VECTOR_KEY, clock=endpoint_clock),
            lambda: {"ok": True},
            None,
            SourceEndpoint(SourceIntake(intake), secrets or SECRETS, clock=endpoint_clock),
        )
        server = HttpServer(router, host="127.0.0.1", port=0).start_in_thread()
        servers.append(server)
        return Tools(server.url, stack, clock)

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def tools(serve: Serve) -> Tools:
    return serve()


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
    assert "'nps_score' is not a question of form Qx7Fm2" in problem[1] and "recommend, why" in problem[1]
    formbricks = tools.post("formbricks", fixture("formbricks"))
    assert formbricks.status == 422
    detail = formbricks.body["fields"]["data.data"]
    assert "sources.formbricks.score_question" in detail and "q_nps, q_why" in detail
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
