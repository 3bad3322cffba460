"""`POST /feedback`: survey tools deliver responses here.

Thin on purpose: HTTP in (auth, size, JSON), `IntakeService.accept`, HTTP out. A rejected request
stores nothing, and every answer is JSON a survey tool's log can show.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from bot.intake import IntakeRejected, IntakeService

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024  # a 10,000-character comment in JSON is ~60 KB even fully escaped

StartResponse = Callable[..., Any]


def json_response(
    start_response: StartResponse, status: str, body: dict[str, Any], headers: Iterable[tuple[str, str]] = ()
) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *headers]
    )
    return [data]


def _authorised(environ: dict[str, Any], token: str | None) -> bool:
    if not token:
        return False
    header = str(environ.get("HTTP_AUTHORIZATION", ""))
    scheme, _, supplied = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(supplied.strip().encode(), token.encode())


def _read_body(environ: dict[str, Any]) -> bytes | None:
    """The body, or None when it is larger than MAX_BODY (read at most one byte more to know)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:
        return None
    body = environ["wsgi.input"].read(min(length, MAX_BODY + 1) if length else MAX_BODY + 1)
    return None if len(body) > MAX_BODY else body


class IntakeEndpoint:
    def __init__(self, intake: IntakeService, token: str | None) -> None:
        self.intake = intake
        self.token = token

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            return json_response(
                start_response,
                "405 Method Not Allowed",
                {"error": "method_not_allowed", "detail": "send feedback with POST"},
                [("Allow", "POST")],
            )
        if not _authorised(environ, self.token):
            return json_response(
                start_response,
                "401 Unauthorized",
                {"error": "unauthorized", "detail": "send 'Authorization: Bearer <CLOSELOOP_INTAKE_TOKEN>'"},
                [("WWW-Authenticate", 'Bearer realm="closeloop"')],
            )
        content_type = str(environ.get("CONTENT_TYPE", "")).split(";")[0].strip().lower()
        if content_type != "application/json":
            return json_response(
                start_response,
                "415 Unsupported Media Type",
                {"error": "unsupported_media_type", "detail": "send Content-Type: application/json"},
            )
        body = _read_body(environ)
        if body is None:
            return json_response(
                start_response,
                "413 Content Too Large",
                {"error": "too_large", "detail": f"the body is over {MAX_BODY} bytes"},
            )
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            return json_response(
                start_response, "400 Bad Request", {"error": "invalid_json", "detail": str(error)[:200]}
            )
        try:
            outcome = self.intake.accept(payload)
        except IntakeRejected as rejected:
            return json_response(
                start_response,
                "422 Unprocessable Content",
                {"error": "invalid_feedback", "fields": rejected.fields},
            )
        status = "created" if outcome.created else "updated" if outcome.changed else "unchanged"
        log.info(
            "feedback %s %s: case %s, %s, %s",
            outcome.feedback_id,
            status,
            outcome.case_id,
            outcome.category,
            outcome.department,
        )
        return json_response(
            start_response,
            "202 Accepted",
            {
                "feedback_id": outcome.feedback_id,
                "case_id": outcome.case_id,
                "category": outcome.category,
                "department": outcome.department,
                "status": status,
            },
        )
