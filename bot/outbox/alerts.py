"""Telling the policy's admins when Slack refuses the outbox for a reason only they can fix.

Once a day per problem and channel, across processes (storage.admin_alerts keeps the count):
a stuck channel holds many deliveries, and each would otherwise raise its own alarm.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.domain.policy import Policy
from bot.outbox.failures import Failure, SendError, explain
from bot.outbox.sender import SlackSender
from storage.admin_alerts import AdminAlerts

log = logging.getLogger(__name__)

ALERT_EVERY = timedelta(days=1)
DEAD_TOKEN = ("invalid_auth", "token_revoked")


class AdminAlerter:
    """`seen` None alerts every time (a process without a database to share the count through)."""

    def __init__(
        self,
        *,
        policy: Policy,
        sender: SlackSender,
        clock: Callable[[], datetime],
        seen: AdminAlerts | None = None,
    ) -> None:
        self.policy = policy
        self.sender = sender
        self.clock = clock
        self.seen = seen

    def alert(self, failure: Failure, channel: str | None, *, given_up: bool = False) -> None:
        """An error in the log and a DM to each admin the first time in a day; a warning after."""
        where = f" to {channel}" if channel else ""
        if self.seen is not None and not self.seen.due(
            f"{failure.code}:{channel}", self.clock(), ALERT_EVERY
        ):
            log.warning("Slack still refuses to post%s: %s", where, failure.reason)
            return
        log.error("Slack refused to post%s: %s", where, failure.reason)
        admins = self.policy.admins
        if not admins or failure.code in DEAD_TOKEN:
            return  # with a dead token no DM could be sent either; the log and `closeloop check` say it
        place = f" in <#{channel}>" if channel and channel.startswith(("C", "G")) else ""
        if given_up:
            after = "It was given up after several tries; `closeloop check` lists what was not sent."
        else:
            after = "Nothing is lost: it retries every 15 minutes, and at once when the bot is invited."
        text = f"⚠️ closeloop cannot post{place}: {failure.reason}. {after}"
        for admin in admins:
            try:
                self.sender.tell(admin, text)
            except SendError as exc:
                log.warning("could not alert admin %s: %s", admin, explain(exc, None))
