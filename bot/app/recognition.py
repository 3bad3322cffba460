"""Kudos and recognition as people give them: the rules from the domain, the rows and the owed
Slack work from storage in one transaction, and a nudge to the outbox once committed.

The shout-out is never edited from here: a press owes the outbox one coalesced edit, due a
little later (`bot.domain.recognition.refresh_due`), and `come_back` asks the outbox to return
for it then rather than at its next sweep.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.domain.policy import Policy
from bot.domain.recognition import (
    Refused,
    Shoutout,
    kudos_refusal,
    recognition_refusal,
    refresh_due,
)
from storage.recognition_store import RecognitionStore


@dataclass(frozen=True)
class Applauded:
    """`refused` None: done; `given` says whether a kudos press gave or took back."""

    shoutout: Shoutout | None
    refused: Refused | None = None
    given: bool = False


class RecognitionActions:
    def __init__(
        self,
        store: RecognitionStore,
        policy: Policy,
        clock: Callable[[], datetime],
        on_changed: Callable[[int], None],
        come_back: Callable[[int, float], None] = lambda _case_id, _seconds: None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.on_changed = on_changed
        self.come_back = come_back

    def toggle_kudos(self, case_id: int, user: str) -> Applauded:
        """Give kudos for the case's shout-out, or take them back when already given."""
        shoutout = self.store.shoutout(case_id)
        refused = kudos_refusal(shoutout, user)
        if refused is not None or shoutout is None:
            return Applauded(shoutout, refused)
        now = self.clock()
        given = self.store.toggle_kudos(shoutout, user, now, lambda last: refresh_due(now, last))
        self._after(shoutout, now)
        return Applauded(shoutout, given=given)

    def may_recognise(self, case_id: int, user: str) -> Applauded:
        """Before showing the Recognise form: is this person a leader of the case?"""
        shoutout = self.store.shoutout(case_id)
        return Applauded(shoutout, recognition_refusal(self.policy, shoutout, user))

    def recognise(self, case_id: int, user: str, note: str) -> Applauded:
        """A leader's note: to the shout-out's thread and the closer's DMs (checked again: the
        form may have stayed open while the policy changed)."""
        checked = self.may_recognise(case_id, user)
        if checked.refused is not None or checked.shoutout is None:
            return checked
        now = self.clock()
        self.store.recognise(checked.shoutout, user, note, now, lambda last: refresh_due(now, last))
        self._after(checked.shoutout, now)
        return Applauded(checked.shoutout, given=True)

    def _after(self, shoutout: Shoutout, now: datetime) -> None:
        self.on_changed(shoutout.case_id)  # what is owed now (a recognition's note)
        self.come_back(shoutout.case_id, (refresh_due(now, None) - now).total_seconds())
