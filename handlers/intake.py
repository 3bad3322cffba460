"""`POST /feedback`: survey tools deliver responses here.

Thin on purpose: HTTP in (auth, size, JSON), `IntakeService.accept`, HTTP out. A rejected request
stores nothing, and every answer is JSON a survey tool's log can show.

A request authenticates with any of three methods, and succeeding with one is enough:

- `Authorization: Bearer <CLOSELOOP_INTAKE_TOKEN>`;
- a signature, as Slack signs its requests: `X-Closeloop-Timestamp: <Unix seconds>` and
  `X-Closeloop-Signature: v1=<hex HMAC-SHA256 of "v1:{timestamp}:{raw body}" keyed with
  CLOSELOOP_INTAKE_SIGNING_SECRET>`, the timestamp within five minutes of now either way, so a
  captured request cannot be replayed later;
- Standard Webhooks (standardwebhooks.com): `webhook-id`, `webhook-timestamp` and
  `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed with the base64-decoded
  `whsec_` secret in CLOSELOOP_INTAKE_WEBHOOK_SECRET, within the same five minutes.

Every comparison takes constant time. Nothing here logs a header, a token, a signature or a secret:
refusals log a fixed reason.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.app.intake import DatabaseUnavailable, IntakeRejected, IntakeService
from bot.domain.records import IntakeOutcome
from handlers.signatures import standard_webhooks

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024  # a 10,000-character comment in JSON is ~60 KB even fully escaped
REPLAY_WINDOW = 300  # seconds a signed request's timestamp may be from now, either way
RETRY_AFTER_SECONDS = 30  # what a 503 asks survey tools to wait while the database is away
SIGNATURE_VERSION = "v1"
TIMESTAMP_HEADER = "HTTP_X_CLOSELOOP_TIMESTAMP"  # X-Closeloop-Timestamp
SIGNATURE_HEADER = "HTTP_X_CLOSELOOP_SIGNATURE"  # X-Closeloop-Signature
_UNIX_SECONDS = re.compile(r"[0-9]{1,15}")  # ASCII digits only (not \d); 15 allows milliseconds, to explain
MISSING_CREDENTIALS = (
    "missing credentials: send 'Authorization: Bearer <token>' or sign the request with "
    "X-Closeloop-Timestamp and X-Closeloop-Signature, or with Standard Webhooks' webhook-id, "
    "webhook-timestamp and webhook-signature"
)

StartResponse = Callable[..., Any]


def json_response(
    start_response: StartResponse, status: str, body: dict[str, Any], headers: Iterable[tuple[str, str]] = ()
) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *headers]
    )
    return [data]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Closeloop-Signature` value for `body` sent with `X-Closeloop-Timestamp: timestamp`."""
    base = f"{SIGNATURE_VERSION}:{timestamp}:".encode() + body
    return f"{SIGNATURE_VERSION}={hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()}"


def _bytes(text: str) -> bytes:
    """Header text as bytes for `hmac.compare_digest`, which refuses non-ASCII `str`."""
    return text.encode("utf-8", "replace")


def bearer_problem(
    environ: dict[str, Any], token: str | None, variable: str = "CLOSELOOP_INTAKE_TOKEN"
) -> str | None:
    """None when the bearer token is right, else what is wrong (never echoing what was sent);
    `variable` is the setting that holds the token, named when it is not set."""
    scheme, _, supplied = str(environ.get("HTTP_AUTHORIZATION", "")).strip().partition(" ")
    supplied = supplied.strip()
    if scheme.lower() != "bearer":
        return "the Authorization header must be 'Bearer <token>'"
    if not supplied:
        return "the bearer token is empty"
    if not token:
        return f"bearer tokens are not enabled on this server ({variable} is not set)"
    if not hmac.compare_digest(_bytes(supplied), token.encode()):
        return "the bearer token does not match"
    return None


def _signature_problem(
    environ: dict[str, Any], secret: str | None, body: bytes | None, now: float
) -> str | None:
    """None when the signature is right and fresh, else what is wrong (never echoing what was sent)."""
    timestamp = str(environ.get(TIMESTAMP_HEADER, "")).strip()
    signature = str(environ.get(SIGNATURE_HEADER, "")).strip().lower()
    if not signature:
        return "X-Closeloop-Signature is missing (send it with X-Closeloop-Timestamp)"
    if not timestamp:
        return "X-Closeloop-Timestamp is missing: send the Unix time in seconds that you signed"
    if not secret:
        return "signed requests are not enabled on this server (CLOSELOOP_INTAKE_SIGNING_SECRET is not set)"
    if not _UNIX_SECONDS.fullmatch(timestamp):
        return "X-Closeloop-Timestamp must be the Unix time in whole seconds, e.g. 1763888400"
    if not signature.startswith(f"{SIGNATURE_VERSION}="):
        return "X-Closeloop-Signature must be 'v1=' followed by the hex HMAC-SHA256"
    if body is None:
        return f"the body is over {MAX_BODY} bytes, too large to verify"
    stale = stale_problem(now - int(timestamp))
    if stale is not None:
        return stale
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), _bytes(signature)):
        return (
            "the signature does not match: send v1=<hex HMAC-SHA256 of 'v1:<timestamp>:<raw body>'> "
            "keyed with the signing secret"
        )
    return None


def stale_problem(age: float) -> str | None:
    """What is wrong with a signed timestamp `age` seconds old (negative: ahead), if anything."""
    if age > REPLAY_WINDOW:
        return (
            f"the signature timestamp is {age:.0f} seconds old, more than 5 minutes — check the sending "
            "machine's clock, and sign each request when it is sent"
        )
    if age < -REPLAY_WINDOW:
        return (
            f"the signature timestamp is {-age:.0f} seconds in the future, more than 5 minutes — check the "
            "sending machine's clock (Unix seconds, not milliseconds)"
        )
    return None


def read_body(environ: dict[str, Any]) -> bytes | None:
    """The body, or None when it is larger than MAX_BODY (read at most one byte more to know)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:
        return None
    body = environ["wsgi.input"].read(min(length, MAX_BODY + 1) if length else MAX_BODY + 1)
    return None if len(body) > MAX_BODY else body


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is too large")
    return value


@dataclass(frozen=True)
class Answer:
    """What `POST /feedback` answers; `result` is what the metrics count it as."""

    status: str
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def result(self) -> str:
        return str(self.body.get("status") or self.body["error"])


class IntakeEndpoint:
    """`token`, `signing_secret` and `webhook_secret` (Standard Webhooks, `whsec_…`) each enable one
    way to authenticate; with none, every request is refused. `clock` (for the replay window)
    defaults to the intake service's. `answered` hears the result of every POST: the status of an
    accepted response (`created`, `updated`, `unchanged`) or the `error` of a refused one; the
    metrics count them, so each request is logged at DEBUG only (under load a line per request
    would bury the rest)."""

    def __init__(
        self,
        intake: IntakeService,
        token: str | None,
        *,
        signing_secret: str | None = None,
        clock: Callable[[], datetime] | None = None,
        answered: Callable[[str], None] | None = None,
        webhook_secret: str | None = None,
    ) -> None:
        self.intake = intake
        self.token = token
        self.signing_secret = signing_secret
        self.webhook = standard_webhooks.webhook(webhook_secret) if webhook_secret else None
        self.clock = clock or intake.clock
        self.answered = answered or (lambda _result: None)
        if not (token or signing_secret or webhook_secret):
            log.warning(
                "POST /feedback refuses every request: set CLOSELOOP_INTAKE_TOKEN, "
                "CLOSELOOP_INTAKE_SIGNING_SECRET or CLOSELOOP_INTAKE_WEBHOOK_SECRET"
            )

    def _authenticate(self, environ: dict[str, Any]) -> tuple[str | None, bytes | None, str]:
        """(how the request authenticated or None, the body if it had to be read, why it was refused).

        Any method is enough. A refusal names what was wrong with each method the request tried.
        """
        tried_bearer = "HTTP_AUTHORIZATION" in environ
        tried_signature = SIGNATURE_HEADER in environ or TIMESTAMP_HEADER in environ
        problems: list[str] = []
        if tried_bearer:
            problem = bearer_problem(environ, self.token)
            if problem is None:
                return "bearer", None, ""
            problems.append(problem)
        body = None
        if tried_signature:
            body = read_body(environ)
            problem = _signature_problem(environ, self.signing_secret, body, self.clock().timestamp())
            if problem is None:
                return "signature", body, ""
            problems.append(problem)
        if standard_webhooks.tried(environ):
            if not tried_signature:  # else the body was read above (None when it was too large)
                body = read_body(environ)
            problem = self._webhook_problem(environ, body)
            if problem is None:
                return "webhook", body, ""
            problems.append(problem)
        return None, body, "; ".join(problems) or MISSING_CREDENTIALS

    def _webhook_problem(self, environ: dict[str, Any], body: bytes | None) -> str | None:
        if self.webhook is None:
            return (
                "Standard Webhooks signatures are not enabled on this server "
                "(CLOSELOOP_INTAKE_WEBHOOK_SECRET is not set)"
            )
        now = self.clock().timestamp()
        return standard_webhooks.standard_webhook_problem(environ, self.webhook, body, now, stale_problem)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":  # not a delivery, so not counted
            return json_response(
                start_response,
                "405 Method Not Allowed",
                {"error": "method_not_allowed", "detail": "send feedback with POST"},
                [("Allow", "POST")],
            )
        answer = self._answer(environ)
        self.answered(answer.result)
        return json_response(start_response, answer.status, answer.body, answer.headers)

    def _answer(self, environ: dict[str, Any]) -> Answer:
        method, body, problem = self._authenticate(environ)
        if method is None:
            log.warning("refused POST /feedback from %s: %s", environ.get("REMOTE_ADDR", "?"), problem)
            return Answer(
                "401 Unauthorized",
                {"error": "unauthorized", "detail": problem},
                (("WWW-Authenticate", 'Bearer realm="closeloop"'),),
            )
        content_type = str(environ.get("CONTENT_TYPE", "")).split(";")[0].strip().lower()
        if content_type != "application/json":
            return Answer(
                "415 Unsupported Media Type",
                {"error": "unsupported_media_type", "detail": "send Content-Type: application/json"},
            )
        if method == "bearer":
            body = read_body(environ)
        if body is None:
            return TOO_LARGE
        try:
            payload = load_json(body)
        except (ValueError, RecursionError) as error:  # JSONDecodeError and over-long integers too
            return invalid_json(error)
        return stored(lambda: self.intake.accept(payload), "/feedback", method)


TOO_LARGE = Answer(
    "413 Content Too Large", {"error": "too_large", "detail": f"the body is over {MAX_BODY} bytes"}
)


def load_json(body: bytes) -> Any:
    """The body's JSON; ValueError (or RecursionError) when it is not JSON closeloop can store."""
    return json.loads(body, parse_constant=_no_constants, parse_float=_finite_float)


def invalid_json(error: Exception) -> Answer:
    return Answer("400 Bad Request", {"error": "invalid_json", "detail": str(error)[:200]})


def stored(accept: Callable[[], IntakeOutcome], path: str, method: str) -> Answer:
    """The answer to a response handed to the intake use case: 202 with its ids, or why not."""
    try:
        outcome = accept()
    except IntakeRejected as rejected:
        return Answer("422 Unprocessable Content", {"error": "invalid_feedback", "fields": rejected.fields})
    except DatabaseUnavailable as error:
        # Nothing was stored (the transaction did not commit): a 503 makes the survey tool
        # send it again, where a 500 might make it give up.
        log.warning("POST %s answered 503: the database is unreachable (%s)", path, error.reason)
        return Answer(
            "503 Service Unavailable",
            {"error": "unavailable", "detail": "the database is unreachable; send it again later"},
            (("Retry-After", str(RETRY_AFTER_SECONDS)),),
        )
    status = "created" if outcome.created else "updated" if outcome.changed else "unchanged"
    log.debug(
        "feedback %s %s (%s): case %s, %s, %s",
        outcome.feedback_id,
        status,
        method,
        outcome.case_id,
        outcome.category,
        outcome.department,
    )
    return Answer(
        "202 Accepted",
        {
            "feedback_id": outcome.feedback_id,
            "case_id": outcome.case_id,
            "category": outcome.category,
            "department": outcome.department,
            "status": status,
        },
    )
