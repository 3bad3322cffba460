"""Slack retries an event it thinks was not answered; the event id makes the retry harmless."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from storage.slack_events import SeenEvents

# Slack's retries stop within minutes (three tries, the last ~5 min later): a day is plenty.
REMEMBER_FOR = timedelta(days=1)


class SlackEventLog:
    def __init__(self, seen: SeenEvents, clock: Callable[[], datetime]) -> None:
        self.seen = seen
        self.clock = clock

    def first_sighting(self, event_id: str) -> bool:
        """True exactly once per event id, whichever process or retry asks first."""
        return self.seen.first_sighting(event_id, self.clock())

    def forget_old(self) -> int:
        return self.seen.forget_before(self.clock() - REMEMBER_FOR)
