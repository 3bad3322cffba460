"""The deadline sweep: APScheduler calls it every `sla.sweep_every`; it turns due deadline rows
into history and outbox rows (storage.deadline_store), then asks the publisher to send them.

It holds no state of its own, so any number of bot processes may run it against one database."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.domain.deadlines import decide
from bot.domain.policy import Policy
from bot.domain.records import CaseSnapshot, DeadlineRecord, SweepDecision
from storage.deadline_store import DeadlineStore

log = logging.getLogger(__name__)


class DeadlineSweeper:
    def __init__(
        self,
        store: DeadlineStore,
        policy: Policy,
        clock: Callable[[], datetime],
        on_fired: Callable[[int], None],
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.on_fired = on_fired

    def sweep(self) -> int:
        """Fire what is due; returns how many reminders and escalations went out. One case's
        trouble never stops the others."""
        now = self.clock()
        fired = 0
        for case_id in self.store.due_case_ids(now):
            try:
                decision = self.store.sweep_case(case_id, now, self._decider(now))
            except Exception:
                log.exception("deadlines of case #%s could not be swept; the next sweep retries", case_id)
                continue
            if decision is None:
                continue
            fired += len(decision.fire)
            for firing in decision.fire:
                if firing.dm_kind and not firing.recipients:
                    log.warning(
                        "case #%s: %s has nobody to notify — add managers to its department "
                        "(or sla.escalation.second_level.notify) in the policy file",
                        case_id,
                        firing.event_kind,
                    )
            if decision.fire:
                self.on_fired(case_id)
        return fired

    def _decider(self, now: datetime) -> Callable[[CaseSnapshot, list[DeadlineRecord]], SweepDecision]:
        return lambda case, rows: decide(self.policy, case, rows, now)
