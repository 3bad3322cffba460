"""The bot was invited to a channel: whatever it could not post there is sent at once, instead of
waiting out the slow retry that follows a `not_in_channel`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext

log = logging.getLogger(__name__)


def register(app: App, on_bot_joined: Callable[[str], None]) -> None:
    @app.event("member_joined_channel")
    def member_joined(event: dict[str, Any], context: BoltContext) -> None:
        channel = event.get("channel")
        if event.get("user") == context.bot_user_id and isinstance(channel, str):
            log.info("the bot was added to %s; retrying what was owed", channel)
            on_bot_joined(channel)
