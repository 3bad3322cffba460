"""Slack retries an event (up to three times, `X-Slack-Retry-Num`) when it thinks our answer came
too late; the first delivery may well have been handled. Each `event_id` is acted on once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse

from bot.app.services import Services

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    @app.middleware
    def once_per_event(body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse | None:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if isinstance(event_id, str) and event_id and not services.slack_events.first_sighting(event_id):
            log.info("event %s was already handled; acknowledging Slack's retry without acting", event_id)
            return BoltResponse(status=200, body="")
        return next()
