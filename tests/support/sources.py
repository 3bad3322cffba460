"""The harness the survey-tool tests share: the tools' documented bodies (tests/fixtures/sources),
each signed the way the tool signs it, posted to the real Router, IntakeEndpoint and
SourceEndpoint on a port-0 server in front of the stack's database, outbox and simulated Slack.

The intake behind them has a policy that maps the tools' questions (the example policy has no
`sources:` section). Signatures are computed here as each tool documents them, independently of
handlers.signatures.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.app.intake import IntakeService
from bot.app.sources import SourceIntake
from bot.devkit.local_stack import HttpAnswer, post_to
from bot.domain.policy import Policy
from bot.domain.sources import FormbricksSource, Sources, TypeformSource, WootricSource
from bot.server import HttpServer
from bot.web import Router
from handlers.intake import IntakeEndpoint
from handlers.intake_sources import SourceEndpoint

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources"
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
