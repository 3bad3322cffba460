"""Slack retries an event (up to three times, `X-Slack-Retry-Num`) when it thinks our answer came
too late; the first delivery may well have been handled. Each `event_id` is acted on once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse

from bot.app.services import Services
from storage.slack_events import SeenEvents

log = logging.getLogger(__name__)


def register(app: App, services: Services, seen: SeenEvents) -> None:
    @app.middleware
    def once_per_event(body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse | None:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if isinstance(event_id, str) and event_id and not seen.first_sighting(event_id, services.clock()):
            log.info("event %s was already handled; acknowledging Slack's retry without acting", event_id)
            return BoltResponse(status=200, body="")
        return next()
