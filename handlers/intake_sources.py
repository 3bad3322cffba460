"""`POST /feedback/<tool>`: survey tools' own webhooks, each checked the way the tool signs.

Thin like `/feedback`: the body (same size limit), the tool's signature, the body's encoding, then
`SourceIntake.accept` (the tool's mapping and the one intake use case) and the same answers.
A route whose secret is not set answers 404 naming the variable that turns it on; an event that
carries no response (a decline, an unrated survey) answers 200 `ignored`, since tools retry on
errors. Nothing is stored for a refusal. Secrets, signatures and headers are never logged.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from bot.app.intake import IntakeRejected
from bot.app.sources import Ignored, SourceIntake, parse_form
from bot.domain.sources import TOOLS
from handlers.intake import (
    TOO_LARGE,
    Answer,
    StartResponse,
    bearer_problem,
    invalid_json,
    json_response,
    load_json,
    read_body,
    stale_problem,
    stored,
)
from handlers.signatures import standard_webhooks
from handlers.signatures.body_hmac import body_hmac_problem
from handlers.signatures.zendesk import zendesk_problem

log = logging.getLogger(__name__)

PREFIX = "/feedback/"
FORM = "application/x-www-form-urlencoded"


def variable(tool: str) -> str:
    """The setting that holds a tool's secret and so turns its route on."""
    return f"CLOSELOOP_{tool.upper()}_SECRET"


class SourceEndpoint:
    """`secrets` maps each enabled tool to its secret (settings has checked their form)."""

    def __init__(
        self,
        sources: SourceIntake,
        secrets: Mapping[str, str],
        *,
        clock: Callable[[], datetime] | None = None,
        answered: Callable[[str], None] | None = None,
    ) -> None:
        self.sources = sources
        self.secrets = {tool: secret for tool, secret in secrets.items() if secret}
        self.clock = clock or sources.intake.clock
        self.answered = answered or (lambda _result: None)
        formbricks = self.secrets.get("formbricks")
        self.formbricks = standard_webhooks.webhook(formbricks) if formbricks else None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        tool = str(environ.get("PATH_INFO", "")).removeprefix(PREFIX).strip("/")
        if tool not in TOOLS:
            routes = ", ".join(PREFIX + name for name in TOOLS)
            detail = f"no survey tool called {tool[:40]!r} — closeloop takes {routes}, and /feedback"
            return json_response(start_response, "404 Not Found", {"error": "not_found", "detail": detail})
        if environ.get("REQUEST_METHOD") != "POST":
            return json_response(
                start_response,
                "405 Method Not Allowed",
                {"error": "method_not_allowed", "detail": "send feedback with POST"},
                [("Allow", "POST")],
            )
        secret = self.secrets.get(tool)
        if secret is None:
            detail = f"{PREFIX}{tool} is off: set {variable(tool)} to turn it on (README, 'Survey tools')"
            return json_response(start_response, "404 Not Found", {"error": "not_enabled", "detail": detail})
        answer = self._answer(tool, secret, environ)
        self.answered(answer.result)
        return json_response(start_response, answer.status, answer.body, answer.headers)

    def _answer(self, tool: str, secret: str, environ: dict[str, Any]) -> Answer:
        body = read_body(environ)
        problem = self._problem(tool, secret, environ, body)
        if problem is not None:
            where = environ.get("REMOTE_ADDR", "?")
            log.warning("refused POST %s%s from %s: %s", PREFIX, tool, where, problem)
            return Answer("401 Unauthorized", {"error": "unauthorized", "detail": problem})
        if body is None:
            return TOO_LARGE
        try:
            payload = self._parse(tool, environ, body)
        except IntakeRejected as rejected:
            return Answer("400 Bad Request", {"error": "invalid_form", "fields": rejected.fields})
        except (ValueError, RecursionError) as error:  # JSONDecodeError and over-long integers too
            return invalid_json(error)
        try:
            return stored(lambda: self.sources.accept(tool, payload), PREFIX + tool, tool)
        except Ignored as ignored:
            log.debug("ignored a %s event: %s", tool, ignored.reason)
            return Answer("200 OK", {"status": "ignored", "detail": ignored.reason})

    @staticmethod
    def _parse(tool: str, environ: dict[str, Any], body: bytes) -> Any:
        """JSON, except Wootric's form encoding (`response[score]=7`), which it may send instead."""
        content_type = str(environ.get("CONTENT_TYPE", "")).split(";")[0].strip().lower()
        if tool == "wootric" and content_type == FORM:
            return parse_form(body)
        return load_json(body)

    def _problem(self, tool: str, secret: str, environ: dict[str, Any], body: bytes | None) -> str | None:
        """None when the request is the tool's own, else what is wrong with it."""
        if tool == "typeform":
            return body_hmac_problem(
                environ.get("HTTP_TYPEFORM_SIGNATURE"),
                secret,
                body,
                header="Typeform-Signature",
                algorithm="sha256",
                encoding="base64",
            )
        if tool == "wootric":
            return self._wootric_problem(secret, environ, body)
        if tool == "asknicely":
            return bearer_problem(environ, secret, variable("asknicely"))
        if tool == "zendesk":
            return zendesk_problem(environ, secret, body)
        if self.formbricks is None:  # not reached: formbricks has a secret here, so a verifier
            return f"{variable('formbricks')} is not set"
        now = self.clock().timestamp()
        return standard_webhooks.standard_webhook_problem(environ, self.formbricks, body, now, stale_problem)

    @staticmethod
    def _wootric_problem(secret: str, environ: dict[str, Any], body: bytes | None) -> str | None:
        """A signed request (`X-Wootric-Signature`), or, for an account that does not sign its
        webhooks, the secret as `?token=` in the webhook's URL."""
        if "HTTP_X_WOOTRIC_SIGNATURE" in environ:
            return body_hmac_problem(
                environ.get("HTTP_X_WOOTRIC_SIGNATURE"),
                secret,
                body,
                header="X-Wootric-Signature",
                algorithm="sha1",
                encoding="hex",
            )
        tokens = parse_qs(str(environ.get("QUERY_STRING", ""))).get("token", [])
        if not tokens:
            return (
                "X-Wootric-Signature is missing — if your account does not sign webhooks, end the "
                f"webhook URL with ?token=<{variable('wootric')}>"
            )
        if not hmac.compare_digest(tokens[0].encode("utf-8", "replace"), secret.encode()):
            return f"the URL's token does not match {variable('wootric')}"
        return None
