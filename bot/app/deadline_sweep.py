"""The deadline sweep: APScheduler calls it every `sla.sweep_every`; it turns due deadline rows
into history and outbox rows (storage.deadline_store), then asks the outbox to send them.

It works in batches, one transaction each, until nothing is due or its time is up, so a thousand
due cases go out in one sweep while no transaction holds its locks for long. It holds no state of
its own, so any number of bot processes may run it against one database."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from bot.domain.deadlines import decide
from bot.domain.policy import Policy
from bot.domain.records import CaseSnapshot, DeadlineRecord, SweepDecision
from storage.deadline_store import BATCH_ROWS, CaseDecider, DeadlineStore, SweptBatch

log = logging.getLogger(__name__)

# A sweep stops starting batches after this long, leaving the rest to the next one: after a long
# downtime the catch-up is spread over a few sweeps instead of holding the scheduler's thread.
TIME_BUDGET_SECONDS = 5.0


class SweepMetrics(Protocol):
    """Where a sweep reports its duration and due rows (bot.metrics.Metrics)."""

    def swept(self, seconds: float, due_rows: int) -> None: ...


class DeadlineSweeper:
    def __init__(
        self,
        store: DeadlineStore,
        policy: Policy,
        clock: Callable[[], datetime],
        on_fired: Callable[[int], None],
        metrics: SweepMetrics | None = None,
        *,
        batch_rows: int = BATCH_ROWS,
        time_budget: float = TIME_BUDGET_SECONDS,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.on_fired = on_fired
        self.metrics = metrics
        self.batch_rows = batch_rows
        self.time_budget = time_budget
        self.timer = timer

    def sweep(self) -> int:
        """Fire what is due; returns how many reminders and escalations went out. A case the
        domain cannot decide is logged and left due; the others still go out."""
        started = self.timer()
        now = self.clock()
        fired = due_rows = 0
        try:
            while True:
                batch = self.store.sweep_batch(now, self._decider(now), limit=self.batch_rows)
                due_rows += batch.due_rows
                fired += self._after_commit(batch)
                # Not full: nothing more is due, or other processes hold the rest. Full but
                # nothing changed: only cases that cannot be decided are left at the front.
                if not batch.full or not batch.changed or self.timer() - started >= self.time_budget:
                    break
        finally:
            if self.metrics is not None:
                self.metrics.swept(self.timer() - started, due_rows)
        return fired

    def _after_commit(self, batch: SweptBatch) -> int:
        fired = 0
        for case_id, decision in batch.decisions:
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

    def _decider(self, now: datetime) -> CaseDecider:
        def decide_case(case: CaseSnapshot, rows: list[DeadlineRecord]) -> SweepDecision | None:
            try:
                return decide(self.policy, case, rows, now)
            except Exception:
                log.exception("deadlines of case #%s could not be decided; the next sweep retries", case.id)
                return None

        return decide_case
