"""Answering the person who clicked, privately."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient

from handlers import payloads

log = logging.getLogger(__name__)


def tell(client: WebClient, respond: Respond, body: dict[str, Any], text: str) -> None:
    """A private answer to the person who clicked; nobody else sees it.

    Sent through the click's response_url: unlike chat.postEphemeral it needs no channel
    membership, so someone who reads a channel without having joined it is answered too (one use
    of the five Slack allows). A click without one falls back to an ephemeral message."""
    if payloads.response_url(body) is None:
        client.chat_postEphemeral(channel=payloads.channel_id(body), user=payloads.user_id(body), text=text)
        return
    answer = respond(text=text, response_type="ephemeral", replace_original=False)
    if answer.status_code != 200:
        log.warning("a private answer was refused: %s %s", answer.status_code, answer.body[:200])
