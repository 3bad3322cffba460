"""One error handler: known problems get a friendly word, unexpected ones an id to quote."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient

from bot.slack.actions import BadPayload
from handlers.payload_shape import shape_problem

log = logging.getLogger("closeloop.errors")


def register(app: App) -> None:
    @app.error
    def handle(error: Exception, body: dict[str, Any], client: WebClient) -> BoltResponse:
        kind = body.get("type") if isinstance(body, dict) else None
        problem = shape_problem(body)
        if isinstance(error, BadPayload) or problem is not None:
            # Bolt's own middleware runs before ours and can trip over a malformed payload.
            log.warning("ignored a malformed %s payload: %s", kind, problem or error)
            return BoltResponse(status=200, body="")
        error_id = uuid.uuid4().hex[:8]
        log.error("unexpected error %s while handling a %s payload", error_id, kind, exc_info=error)
        user = (body.get("user") or {}).get("id") if isinstance(body, dict) else None
        channel = (body.get("channel") or {}).get("id") if isinstance(body, dict) else None
        if isinstance(user, str) and isinstance(channel, str):
            try:
                client.chat_postEphemeral(
                    channel=channel,
                    user=user,
                    text=f"Something went wrong on our side (error id {error_id}).",
                )
            except Exception:  # the person still gets Slack's own error; the log has the details
                log.warning("could not tell %s about error %s", user, error_id)
        return BoltResponse(status=200, body="")
