"""Answering the person who clicked, privately."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient

from bot.slack import kit
from handlers import payloads

log = logging.getLogger(__name__)


def notice_view(text: str) -> dict[str, Any]:
    """A modal that only says `text` (at most a section's 3,000 characters: our answers are far
    shorter, and the contact card is capped to fit)."""
    return {
        "type": "modal",
        "title": kit.plain_text("closeloop", 24),
        "close": kit.plain_text("OK", 24),
        "blocks": [kit.section(text[:3000])],
    }


def tell(client: WebClient, respond: Respond, body: dict[str, Any], text: str) -> None:
    """A private answer to the person who clicked; nobody else sees it.

    Sent through the click's response_url: unlike chat.postEphemeral it needs no channel
    membership, so someone who reads a channel without having joined it is answered too (one use
    of the five Slack allows). A click without one falls back to an ephemeral message in its
    channel; a click in the App Home has neither, so the answer opens as a small modal where
    the person is looking (its trigger is fresh: the listener runs right after the ack), or,
    without a trigger, comes as a direct message from the bot."""
    if payloads.response_url(body) is None:
        if "channel" in body or "channel_id" in (body.get("container") or {}):
            client.chat_postEphemeral(
                channel=payloads.channel_id(body), user=payloads.user_id(body), text=text
            )
        elif isinstance(body.get("trigger_id"), str):
            client.views_open(trigger_id=payloads.trigger_id(body), view=notice_view(text))
        else:
            client.chat_postMessage(channel=payloads.user_id(body), text=text)
        return
    answer = respond(text=text, response_type="ephemeral", replace_original=False)
    if answer.status_code != 200:
        log.warning("a private answer was refused: %s %s", answer.status_code, answer.body[:200])
