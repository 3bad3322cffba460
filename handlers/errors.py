"""One error handler: known problems get a friendly word, unexpected ones an id to quote."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from bot.slack.actions import BadPayload
from handlers import payloads
from handlers.payload_shape import shape_problem

log = logging.getLogger("closeloop.errors")


def _tell(client: WebClient, body: Any, text: str) -> None:
    """Through the request's response_url when it has one (no channel membership needed, like
    handlers.answers.tell), else an ephemeral message in the channel, else (a click in the App
    Home, which has neither) a direct message."""
    if not isinstance(body, dict):
        return
    response_url = payloads.response_url(body)
    if response_url is not None:  # Slack's, from a signed request (as Bolt's own respond uses it)
        WebhookClient(response_url, timeout=5).send(
            text=text, response_type="ephemeral", replace_original=False
        )
        return
    user, channel = body.get("user"), body.get("channel")
    user_id = user.get("id") if isinstance(user, dict) else None
    channel_id = channel.get("id") if isinstance(channel, dict) else None
    if isinstance(user_id, str) and isinstance(channel_id, str):
        client.chat_postEphemeral(channel=channel_id, user=user_id, text=text)
    elif isinstance(user_id, str) and body.get("type") == "block_actions":  # a click in the App Home
        client.chat_postMessage(channel=user_id, text=text)


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
        text = f"Something went wrong on our side (error id {error_id})."
        try:
            _tell(client, body, text)
        except Exception:  # the person still gets Slack's own error; the log has the details
            log.warning("could not tell the person about error %s", error_id)
        return BoltResponse(status=200, body="")
