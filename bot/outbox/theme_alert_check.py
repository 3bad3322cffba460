"""The theme spike check: a scheduler job, every minute, in every bot process.

Why a sweep and not the intake: the intake is the hot path (benchmarked, four Core INSERTs a
response), and a check there would add a grouped count to every tagged detractor; a sweep costs
one grouped query a minute over the window's rows whatever the volume, and it also sees the
themes owners pick when they close a loop (those count from when the response arrived). An
alert is at most a minute late.

Once per theme per window, across processes: each spiking (department, theme) is claimed with
one conditional upsert of its `theme_alerts` row (storage's `ThemeStore.claim_alert`), which
only succeeds when the last alert of that theme is at least a window old, and only the winner
queues the delivery, in the same transaction: durable through the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from bot.domain.policy import Policy
from bot.domain.themes import ThemeSpike, WindowCount, spikes

log = logging.getLogger(__name__)

CHECK_SECONDS = 60.0


class SpikeStore(Protocol):
    """What the check asks of storage (`storage.themes.ThemeStore`)."""

    def window_counts(self, rule: ThemeSpike, now: datetime) -> list[WindowCount]: ...
    def alerted_since(self, since: datetime) -> set[tuple[str, str]]: ...
    def claim_alert(self, spike: WindowCount, rule: ThemeSpike, now: datetime) -> int | None: ...


class ThemeSpikeCheck:
    def __init__(
        self,
        store: SpikeStore,
        policy: Policy,
        clock: Callable[[], datetime],
        queued: Callable[[], None],
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.queued = queued  # told once an alert is owed, so the outbox sends it without waiting

    def check(self) -> int:
        """Claim and queue the alerts now due; how many this call queued (0 when another process,
        or an earlier check, already sent this window's)."""
        rule = self.policy.alerts.theme_spike
        if rule is None:
            return 0
        now = self.clock()
        firing = spikes(rule, self.store.window_counts(rule, now))
        if not firing:
            return 0
        recent = self.store.alerted_since(now - rule.within)  # skips the claim, not the rule
        queued = 0
        for spike in firing:
            if (spike.department, spike.theme) in recent:
                continue
            if self.store.claim_alert(spike, rule, now) is not None:
                log.info("theme spike: %r in %s, %d detractors", spike.theme, spike.department, spike.count)
                queued += 1
        if queued:
            self.queued()
        return queued
