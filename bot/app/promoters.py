"""The promoter path as people act on it: a press on a promoter's notice is recorded (the first
press of each action stands), and the notice's edit is owed to the outbox, coalesced like the
shout-out's kudos (`bot.domain.recognition.refresh_due`). Never a Slack call from here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.domain.promoters import Pressed
from bot.domain.recognition import refresh_due
from bot.domain.vocabulary import PromoterAction
from storage.promoter_follow_ups import PromoterFollowUps


class PromoterActions:
    def __init__(
        self,
        store: PromoterFollowUps,
        clock: Callable[[], datetime],
        come_back: Callable[[int | None, float], None] = lambda _key, _seconds: None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.come_back = come_back

    def press(self, feedback_id: int, action: PromoterAction, user: str) -> Pressed | None:
        """Record the press (None: no such response). A second press of an action, by anyone,
        changes nothing and says who was first."""
        notice = self.store.notice(feedback_id)
        if notice is None:
            return None
        now = self.clock()
        first, new = self.store.press(feedback_id, action, user, now, lambda last: refresh_due(now, last))
        if new:
            # Case-less deliveries are the outbox's "None" key: ask it back when the edit is due.
            self.come_back(None, (refresh_due(now, None) - now).total_seconds())
        return Pressed(notice, first, new)
