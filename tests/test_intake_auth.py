"""How POST /feedback authenticates: a bearer token or a Slack-style signature over the timestamp and
the raw body, fresh within five minutes. Every refusal is a 401 that says what was wrong, stores
nothing, and no secret reaches a log.

The signing endpoint here is the real `IntakeEndpoint` on a real port-0 HTTP server, in front of the
stack's own intake service, database and clock (the stack's Settings carry no signing secret).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.devkit.local_stack import HttpAnswer, post_to
from bot.server import HttpServer
from bot.settings import Settings, SettingsError, load_settings
from handlers.intake import IntakeEndpoint, sign
from tests.factories import payload
from tests.support.examples import examples

SECRET = "signing-secret-for-tests-0123456789"
FUZZ = settings(
    max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
ROOT = Path(__file__).parent.parent


def signature(timestamp: str, body: bytes, secret: str = SECRET) -> str:
    """Computed here, independently of handlers.intake.sign, as a survey tool would."""
    base = b"v1:" + timestamp.encode() + b":" + body
    return "v1=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def post(url: str, body: bytes, headers: dict[str, str]) -> HttpAnswer:
    return post_to(url, body, {"Content-Type": "application/json", **headers})


@contextmanager
def serving(endpoint: IntakeEndpoint) -> Iterator[str]:
    server = HttpServer(endpoint, host="127.0.0.1", port=0).start_in_thread()
    try:
        yield f"{server.url}/feedback"
    finally:
        server.close()


class Intake:
    """POST /feedback to an endpoint that takes both the stack's bearer token and SECRET."""

    def __init__(self, url: str, stack, clock) -> None:
        self.url, self.stack, self.clock = url, stack, clock

    def now(self, seconds: float = 0) -> str:
        return str(int(self.clock.timestamp() + seconds))

    def signed(self, body: bytes, *, timestamp: str | None = None, secret: str = SECRET) -> dict[str, str]:
        timestamp = self.now() if timestamp is None else timestamp
        return {
            "X-Closeloop-Timestamp": timestamp,
            "X-Closeloop-Signature": signature(timestamp, body, secret),
        }

    def post(self, body: bytes, headers: dict[str, str]) -> HttpAnswer:
        return post(self.url, body, headers)

    def counts(self) -> dict[str, int]:
        return self.stack.runtime.repository.counts()


@pytest.fixture
def intake(stack, clock) -> Iterator[Intake]:
    endpoint = IntakeEndpoint(stack.runtime.services.intake, stack.intake_token, signing_secret=SECRET)
    with serving(endpoint) as url:
        yield Intake(url, stack, clock)


def body_of(**overrides) -> bytes:
    return json.dumps(payload(**overrides)).encode()


def assert_refused(answer: HttpAnswer, *phrases: str) -> None:
    assert answer.status == 401, answer
    assert answer.body["error"] == "unauthorized", answer.body
    for phrase in phrases:
        assert phrase in answer.body["detail"], answer.body


# --- signed requests -------------------------------------------------------------------------------


def test_a_good_signature_is_accepted_and_stored(intake):
    body = body_of()
    answer = intake.post(body, intake.signed(body))
    assert answer.status == 202, answer
    assert answer.body["status"] == "created"
    stored = intake.stack.runtime.repository.feedback(answer.body["feedback_id"])
    assert stored.score == 3 and stored.raw["id"] == "resp-1"


def test_the_published_sign_helper_matches_the_documented_scheme():
    # The known answer: printf 'v1:1763888400:{"id":1}' | openssl dgst -sha256 -hmac 'k'
    expected = signature("1763888400", b'{"id":1}', "k")
    assert sign("k", "1763888400", b'{"id":1}') == expected
    assert expected == "v1=" + hmac.new(b"k", b'v1:1763888400:{"id":1}', hashlib.sha256).hexdigest()


def test_timestamps_exactly_five_minutes_off_are_still_accepted_and_hex_case_does_not_matter(intake):
    for number, offset in enumerate((-300, 300)):
        body = body_of(id=f"edge-{number}")
        headers = intake.signed(body, timestamp=intake.now(offset))
        headers["X-Closeloop-Signature"] = "v1=" + headers["X-Closeloop-Signature"][3:].upper()
        answer = intake.post(body, headers)
        assert answer.status == 202, (offset, answer)


@pytest.mark.parametrize(
    ("case", "phrases"),
    [
        ("wrong secret", ["the signature does not match"]),
        ("tampered body", ["the signature does not match"]),
        ("signed another timestamp", ["the signature does not match"]),
        ("301 s old", ["301 seconds old", "check the sending machine's clock"]),
        ("a day old", ["86400 seconds old"]),
        ("301 s ahead", ["301 seconds in the future", "check the sending machine's clock"]),
        ("milliseconds", ["in the future", "not milliseconds"]),
        ("word timestamp", ["X-Closeloop-Timestamp must be the Unix time in whole seconds"]),
        ("fractional timestamp", ["X-Closeloop-Timestamp must be the Unix time in whole seconds"]),
        ("negative timestamp", ["X-Closeloop-Timestamp must be the Unix time in whole seconds"]),
        ("no timestamp", ["X-Closeloop-Timestamp is missing"]),
        ("no signature", ["X-Closeloop-Signature is missing"]),
        ("empty signature", ["X-Closeloop-Signature is missing"]),
        ("no v1= prefix", ["must be 'v1=' followed by the hex HMAC-SHA256"]),
        ("v0 scheme", ["must be 'v1=' followed by the hex HMAC-SHA256"]),
    ],
)
def test_bad_signatures_are_401_say_why_and_store_nothing(intake, case, phrases):
    body = body_of()
    headers = intake.signed(body)
    if case == "wrong secret":
        headers = intake.signed(body, secret="another-secret-0123456789abcdef")
    elif case == "tampered body":
        body = body_of(score=10)
    elif case == "signed another timestamp":
        headers["X-Closeloop-Timestamp"] = intake.now(1)
    elif case == "301 s old":
        headers = intake.signed(body, timestamp=intake.now(-301))
    elif case == "a day old":
        headers = intake.signed(body, timestamp=intake.now(-86400))
    elif case == "301 s ahead":
        headers = intake.signed(body, timestamp=intake.now(301))
    elif case == "milliseconds":
        headers = intake.signed(body, timestamp=intake.now() + "000")
    elif case == "word timestamp":
        headers = intake.signed(body, timestamp="yesterday")
    elif case == "fractional timestamp":
        headers = intake.signed(body, timestamp=intake.now() + ".5")
    elif case == "negative timestamp":
        headers = intake.signed(body, timestamp="-" + intake.now())
    elif case == "no timestamp":
        del headers["X-Closeloop-Timestamp"]
    elif case == "no signature":
        del headers["X-Closeloop-Signature"]
    elif case == "empty signature":
        headers["X-Closeloop-Signature"] = ""
    elif case == "no v1= prefix":
        headers["X-Closeloop-Signature"] = headers["X-Closeloop-Signature"][3:]
    elif case == "v0 scheme":
        headers["X-Closeloop-Signature"] = "v0=" + headers["X-Closeloop-Signature"][3:]
    before = intake.counts()
    assert_refused(intake.post(body, headers), *phrases)
    assert intake.counts() == before == {"feedback": 0, "cases": 0, "case_events": 0, "deliveries": 0}


def test_a_captured_request_replayed_after_the_window_is_refused(intake, clock):
    body = body_of(comment="first")
    captured = intake.signed(body)
    assert intake.post(body, captured).status == 202
    clock.advance(seconds=200)
    assert intake.post(body, captured).body["status"] == "unchanged"  # within the window: idempotent
    clock.advance(seconds=101)
    before = intake.counts()
    assert_refused(intake.post(body, captured), "301 seconds old")
    assert intake.counts() == before
    # The window follows the injected clock: the same body signed now is fine.
    changed = body_of(comment="second")
    assert intake.post(changed, intake.signed(changed)).body["status"] == "updated"


def test_a_signed_body_too_large_to_verify_is_401_not_read(intake):
    body = body_of(comment="x" * 300_000)
    assert_refused(intake.post(body, intake.signed(body)), "too large to verify")
    assert intake.counts()["feedback"] == 0


def test_a_signed_request_still_needs_json(intake):
    body = body_of()
    answer = intake.post(body, {**intake.signed(body), "Content-Type": "text/plain"})
    assert answer.status == 415
    broken = b"{not json"
    assert intake.post(broken, intake.signed(broken)).status == 400
    assert intake.counts()["feedback"] == 0


# --- bearer, both, neither ------------------------------------------------------------------------


def test_the_bearer_token_still_works_on_the_bot_and_next_to_signing(stack, intake):
    assert stack.post_feedback(payload(id="via-bot")).status == 202
    body = body_of(id="via-endpoint")
    answer = intake.post(body, {"Authorization": f"Bearer {stack.intake_token}"})
    assert answer.status == 202 and answer.body["status"] == "created"


def test_either_method_is_enough_and_a_refusal_names_each_that_failed(stack, intake):
    body = body_of()
    good_token, bad_token = (
        {"Authorization": f"Bearer {stack.intake_token}"},
        {"Authorization": "Bearer nope"},
    )
    stale = intake.signed(body, timestamp=intake.now(-3600))
    assert intake.post(body, {**good_token, **stale}).status == 202  # good token, stale signature
    assert intake.post(body_of(id="2"), {**bad_token, **intake.signed(body_of(id="2"))}).status == 202
    before = intake.counts()
    assert_refused(
        intake.post(body, {**bad_token, **stale}), "bearer token does not match", "3600 seconds old"
    )
    assert intake.counts() == before


@pytest.mark.parametrize(
    ("headers", "phrase"),
    [
        ({}, "missing credentials: send 'Authorization: Bearer <token>' or sign the request"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "the Authorization header must be 'Bearer <token>'"),
        ({"Authorization": "Bearer "}, "the bearer token is empty"),
        ({"Authorization": "Bearer not-the-token-0123456789"}, "the bearer token does not match"),
    ],
)
def test_bearer_refusals_say_why_and_store_nothing(intake, headers, phrase):
    assert_refused(intake.post(body_of(), headers), phrase)
    assert intake.counts()["feedback"] == 0


def test_the_bot_without_a_signing_secret_refuses_signed_requests(stack, clock):
    # LocalStack's settings have no CLOSELOOP_INTAKE_SIGNING_SECRET, so signing is off there.
    body = body_of()
    timestamp = str(int(clock.timestamp()))
    for secret in (SECRET, ""):
        headers = {
            "X-Closeloop-Timestamp": timestamp,
            "X-Closeloop-Signature": signature(timestamp, body, secret),
        }
        assert_refused(post(f"{stack.server.url}/feedback", body, headers), "signed requests are not enabled")
    assert stack.runtime.repository.counts()["feedback"] == 0


@pytest.mark.parametrize("unset", [None, ""])
def test_with_neither_token_nor_secret_everything_is_refused(stack, clock, caplog, unset):
    endpoint = IntakeEndpoint(stack.runtime.services.intake, unset, signing_secret=unset)
    assert "refuses every request" in caplog.text
    body = body_of()
    timestamp = str(int(clock.timestamp()))
    attempts = [
        {},
        {"Authorization": f"Bearer {stack.intake_token}"},
        {"Authorization": "Bearer "},
        {"X-Closeloop-Timestamp": timestamp, "X-Closeloop-Signature": signature(timestamp, body, "")},
        {"X-Closeloop-Timestamp": timestamp, "X-Closeloop-Signature": signature(timestamp, body)},
    ]
    with serving(endpoint) as url:
        for headers in attempts:
            assert_refused(post(url, body, headers))
    assert stack.runtime.repository.counts()["feedback"] == 0


# --- secrets stay out of logs ----------------------------------------------------------------------


def test_no_token_secret_or_signature_reaches_any_log_record(stack, intake, caplog):
    caplog.set_level(logging.DEBUG)
    good_body, bad_body = body_of(id="logged-1"), body_of(id="logged-2")
    good, bad = intake.signed(good_body), intake.signed(bad_body, secret="another-secret-0123456789abcdef")
    stale = intake.signed(bad_body, timestamp=intake.now(-900))
    wrong_token = "wrong-token-that-is-long-enough"
    answers = [
        intake.post(good_body, good),
        intake.post(body_of(id="logged-3"), {"Authorization": f"Bearer {stack.intake_token}"}),
        intake.post(bad_body, bad),
        intake.post(bad_body, stale),
        intake.post(bad_body, {"Authorization": f"Bearer {wrong_token}"}),
        intake.post(bad_body, {"Authorization": f"Bearer {stack.intake_token}x", **bad}),
    ]
    assert [a.status for a in answers] == [202, 202, 401, 401, 401, 401]
    stack.settle()
    messages = [record.getMessage() for record in caplog.records]
    # The capture works: both the accepted and the refused requests were logged.
    assert sum("refused POST /feedback" in m for m in messages) == 4, messages
    assert sum("(signature): case" in m for m in messages) == 1, messages
    assert sum("(bearer): case" in m for m in messages) == 1, messages
    secrets = {
        "intake token": stack.intake_token,
        "signing secret": SECRET,
        "wrong token": wrong_token,
        **{
            f"signature {n}": value
            for n, headers in enumerate((good, bad, stale))
            for value in (headers["X-Closeloop-Signature"], headers["X-Closeloop-Signature"][3:])
        },
    }
    for record in caplog.records:
        text = f"{record.getMessage()} {record.args!r} {record.exc_text or ''} {vars(record)!r}"
        for name, value in secrets.items():
            assert value not in text, f"the {name} appears in a log record: {record.getMessage()!r}"


# --- no header value breaks the intake -------------------------------------------------------------

# What HTTP lets a header carry (RFC 9110 field-value: visible ASCII, space, obs-text; waitress
# itself answers 400 to anything else, such as DEL, before the app is called).
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=80
)
# What a WSGI server or proxy in front could hand over: any str, lone surrogates included.
any_text = st.text(st.characters(exclude_categories=()), max_size=80)


def header_sets(text: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, str | int]]:
    """Authorization, timestamp and signature, each absent, random, or nearly right. An int
    timestamp is an offset from now in seconds, where only the HMAC can refuse."""
    return st.fixed_dictionaries(
        {},
        optional={
            "Authorization": text | text.map(lambda t: f"Bearer {t}"),
            "X-Closeloop-Timestamp": text | st.integers(-(10**16), 10**16).map(str) | st.integers(-400, 400),
            "X-Closeloop-Signature": text
            | text.map(lambda t: f"v1={t}")
            | st.text("0123456789abcdefABCDEF", max_size=70).map(lambda h: f"v1={h}"),
        },
    )


def resolved(headers: dict[str, str | int], clock) -> dict[str, str]:
    return {
        name: str(int(clock.timestamp()) + value) if isinstance(value, int) else value
        for name, value in headers.items()
    }


@FUZZ
@given(headers=header_sets(header_text))
def test_random_header_values_are_refused_never_a_5xx(intake, clock, headers):
    headers = resolved(headers, clock)
    before = intake.counts()
    answer = intake.post(body_of(id="fuzz"), headers)
    assert answer.status == 401, (headers, answer)
    assert answer.body["error"] == "unauthorized" and answer.body["detail"]
    assert intake.counts() == before


def call(endpoint: IntakeEndpoint, body: bytes, headers: dict[str, str]) -> tuple[str, dict]:
    """Call the WSGI app directly, with header values no HTTP client would send."""
    environ = {"REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body))}
    environ |= {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}

    class Input:
        def read(self, size: int) -> bytes:
            return body[:size]

    environ["wsgi.input"] = Input()
    statuses: list[str] = []
    chunks = endpoint(environ, lambda status, _headers: statuses.append(status))
    assert len(statuses) == 1
    return statuses[0], json.loads(b"".join(chunks))


def test_a_timestamp_in_non_ascii_digits_is_refused_even_when_signed(stack, clock):
    # str.isdigit(), int() and \d accept these; the signature covers them, so only the format check refuses.
    endpoint = IntakeEndpoint(stack.runtime.services.intake, None, signing_secret=SECRET)
    body = body_of()
    ascii_now = str(int(clock.timestamp()))
    assert call(
        endpoint,
        body,
        {"X-Closeloop-Timestamp": ascii_now, "X-Closeloop-Signature": signature(ascii_now, body)},
    )[0].startswith("202")
    for digits in ("٠١٢٣٤٥٦٧٨٩", "０１２３４５６７８９"):
        timestamp = ascii_now.translate(str.maketrans("0123456789", digits))
        assert int(timestamp) == int(ascii_now)
        status, answer = call(
            endpoint,
            body_of(id=digits),
            {
                "X-Closeloop-Timestamp": timestamp,
                "X-Closeloop-Signature": signature(timestamp, body_of(id=digits)),
            },
        )
        assert status == "401 Unauthorized" and "whole seconds" in answer["detail"], answer
    assert stack.runtime.repository.counts()["feedback"] == 1


@FUZZ
@given(headers=header_sets(any_text))
@example(headers={"Authorization": "Bearer \udcff-lone-surrogate"})
@example(headers={"X-Closeloop-Timestamp": 0, "X-Closeloop-Signature": "v1=\udcff"})
@example(headers={"X-Closeloop-Timestamp": 0, "X-Closeloop-Signature": "v1=" + "é" * 64})
def test_any_str_in_the_environ_is_refused_never_raised(stack, clock, headers):
    endpoint = IntakeEndpoint(stack.runtime.services.intake, stack.intake_token, signing_secret=SECRET)
    status, answer = call(endpoint, body_of(id="environ-fuzz"), resolved(headers, clock))
    assert status == "401 Unauthorized" and answer["error"] == "unauthorized"


# --- the setting -----------------------------------------------------------------------------------


def test_the_signing_secret_setting_is_optional_read_and_checked():
    assert load_settings({}, None).intake_signing_secret is None
    settings_ = load_settings({"CLOSELOOP_INTAKE_SIGNING_SECRET": "  0123456789abcdef  "}, None)
    assert settings_.intake_signing_secret == "0123456789abcdef"
    with pytest.raises(SettingsError) as caught:
        load_settings({"CLOSELOOP_INTAKE_SIGNING_SECRET": "short"}, None)
    message = str(caught.value)
    assert message.startswith("CLOSELOOP_INTAKE_SIGNING_SECRET in the environment is shorter than 16")
    assert "secrets.token_hex" in message and "short" not in message.split("—")[1] and "\n" not in message


def test_the_intake_needs_a_token_or_a_signing_secret():
    load_settings({"CLOSELOOP_INTAKE_TOKEN": "0123456789abcdef"}, None).require_intake_auth()
    load_settings({"CLOSELOOP_INTAKE_SIGNING_SECRET": "0123456789abcdef"}, None).require_intake_auth()
    with pytest.raises(SettingsError) as caught:
        load_settings({}, None).require_intake_auth()
    message = str(caught.value)
    assert message.startswith(
        "CLOSELOOP_INTAKE_TOKEN is not set in the environment (nor CLOSELOOP_INTAKE_SIGNING_SECRET) — set"
    )
    assert "\n" not in message
    load_settings({"CLOSELOOP_INTAKE_SIGNING_SECRET": "0123456789abcdef"}, None).require(
        "CLOSELOOP_INTAKE_SIGNING_SECRET"
    )
    with pytest.raises(SettingsError, match="CLOSELOOP_INTAKE_SIGNING_SECRET is not set in the environment"):
        load_settings({}, None).require("CLOSELOOP_INTAKE_SIGNING_SECRET")


def test_settings_built_in_code_need_no_signing_secret():
    # LocalStack and others build Settings by keyword without the new field.
    built = Settings(
        slack_bot_token=None,
        slack_signing_secret=None,
        slack_app_token=None,
        slack_api_url="https://slack.com/api/",
        database_url="sqlite://",
        policy_path=None,
        intake_token=None,
        port=0,
        source="code",
    )
    assert built.intake_signing_secret is None


def test_env_example_explains_the_signing_secret():
    lines = (ROOT / ".env.example").read_text().splitlines()
    index = lines.index("CLOSELOOP_INTAKE_SIGNING_SECRET=")
    assert lines[index - 1].startswith("#") and "X-Closeloop-Signature" in "\n".join(lines[index - 3 : index])
