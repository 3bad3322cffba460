"""The HTTP surface: one WSGI app routing Slack, intake and health checks."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

log = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

MALFORMED = (ValueError, TypeError, KeyError, IndexError, AttributeError)
MAX_SLACK_BODY = 1024 * 1024  # Slack payloads are a few KB; a view with state stays far below this


def _plain(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


class Router:
    def __init__(self, bolt_app: App, intake: WsgiApp, health: Callable[[], dict[str, Any]]) -> None:
        self.slack = SlackRequestHandler(bolt_app, path="/slack/events")
        self.intake = intake
        self.health = health

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
                return self.slack(environ, start_response)
            except MALFORMED as error:
                # Bolt parses and matches the payload before any listener runs; a payload that
                # is not shaped like Slack's (bad JSON, `actions: null`, ...) fails there. That is
                # the sender's problem, not a server error.
                log.warning("refused a malformed Slack request: %r", error)
                return _plain(start_response, "400 Bad Request", {"error": "malformed_request"})
        if path == "/feedback":
            return self.intake(environ, start_response)
        if path == "/healthz":
            report = self.health()
            status = "200 OK" if report.get("ok") else "503 Service Unavailable"
            return _plain(start_response, status, report)
        return _plain(start_response, "404 Not Found", {"error": "not_found"})
