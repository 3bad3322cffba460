"""Who the bot is in Slack (its user id), known before any request is answered.

Bolt's default single-workspace authorization calls `auth.test` on the first request it serves,
before the listener can ack: with Slack slow or down, the first click after a restart misses its
3 s deadline. Here the answer of the start-up token check (or of one call when the runtime is
built for tests and the demo) is kept, and each request is authorised from it without a call.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from slack_bolt.authorization import AuthorizeResult


class BotIdentity:
    def __init__(self, token: str | None) -> None:
        self.token = token
        self._known: Mapping[str, Any] = {}
        self._lock = threading.Lock()

    def learn(self, auth_test: Mapping[str, Any]) -> None:
        """From Slack's `auth.test` answer (user_id, bot_id, team_id)."""
        with self._lock:
            self._known = dict(auth_test)

    @property
    def user_id(self) -> str | None:
        return self._known.get("user_id")

    def authorize(
        self, enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult:
        """Bolt's `authorize` hook. Until Slack has said who the bot is, requests are still served
        with the token; only listeners that compare a user with the bot (an invitation event)
        do nothing then, and what they would speed up the next sweep does anyway."""
        known = self._known
        return AuthorizeResult(
            enterprise_id=enterprise_id or known.get("enterprise_id"),
            team_id=team_id or known.get("team_id"),
            user_id=user_id,
            bot_token=self.token,
            bot_id=known.get("bot_id"),
            bot_user_id=known.get("user_id"),
        )
