"""The HTTP surface: one WSGI app routing Slack, intake and health checks."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.metrics import Metrics

log = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

MALFORMED = (ValueError, TypeError, KeyError, IndexError, AttributeError)
MAX_SLACK_BODY = 1024 * 1024  # Slack payloads are a few KB; a view with state stays far below this


def _plain(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def slack_request_kind(body: bytes) -> str:
    """Interactions (buttons, forms) and slash commands come form-encoded, events as JSON: enough
    to tell a click's ack time from an event's without parsing the body twice."""
    if body.startswith(b"payload="):
        return "interaction"
    if b"command=" in body[:2000]:
        return "command"
    return "event"


class Router:
    def __init__(
        self,
        bolt_app: App,
        intake: WsgiApp,
        health: Callable[[], dict[str, Any]],
        metrics: Metrics | None = None,
        sources: WsgiApp | None = None,
    ) -> None:
        self.slack = SlackRequestHandler(bolt_app, path="/slack/events")
        self.intake = intake
        self.sources = sources  # POST /feedback/<tool>: survey tools' own webhooks
        self.health = health
        self.metrics = metrics

    def _slack(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Bolt answers once the listener has acked, so the time to here is the ack's latency."""
        if self.metrics is None:
            return self.slack(environ, start_response)
        started = time.perf_counter()
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(body)
        answer = self.slack(environ, start_response)
        self.metrics.acked(slack_request_kind(body), time.perf_counter() - started)
        return answer

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/slack/events":
            try:
                too_big = int(environ.get("CONTENT_LENGTH") or 0) > MAX_SLACK_BODY
            except ValueError:
                too_big = True
            if too_big:
                return _plain(start_response, "413 Content Too Large", {"error": "too_large"})
            try:
                return self._slack(environ, start_response)
            except MALFORMED as error:
                # Bolt parses and matches the payload before any listener runs; a payload that
                # is not shaped like Slack's (bad JSON, `actions: null`, ...) fails there. That is
                # the sender's problem, not a server error.
                log.warning("refused a malformed Slack request: %r", error)
                return _plain(start_response, "400 Bad Request", {"error": "malformed_request"})
        if path == "/feedback":
            return self.intake(environ, start_response)
        if path.startswith("/feedback/") and self.sources is not None:
            return self.sources(environ, start_response)
        if path == "/metrics" and self.metrics is not None:
            data, content_type = self.metrics.exposition()
            start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(data)))])
            return [data]
        if path == "/healthz":
            report = self.health()
            status = "200 OK" if report.get("ok") else "503 Service Unavailable"
            return _plain(start_response, status, report)
        return _plain(start_response, "404 Not Found", {"error": "not_found"})
