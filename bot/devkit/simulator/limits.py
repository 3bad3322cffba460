"""Rate limiting and fault injection: the two ways the simulator makes a healthy bot see trouble."""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

from bot.devkit.simulator.models import Clock

# Slack's per-workspace tiers (per method, across all channels), as documented for late 2026.
TIER_3_METHODS = frozenset(
    {"chat.update", "conversations.open", "conversations.history", "conversations.replies"}
)
TIER_4_METHODS = frozenset(
    {"chat.postEphemeral", "views.open", "views.update", "views.push", "views.publish", "users.info"}
    | {"files.getUploadURLExternal", "files.completeUploadExternal"}
)


class RateLimiter:
    """Per-key token buckets (e.g. chat.postMessage per channel) on the simulator's clock.

    `rate` tokens per second refill a bucket of `burst`; `rate=None` lets everything through.
    """

    def __init__(self, rate: float | None, burst: int, clock: Clock) -> None:
        if rate is not None and (rate <= 0 or burst < 1):
            raise ValueError("rate must be positive and burst at least 1")
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> int | None:
        """Spend one token; returns None when allowed, else the whole seconds to wait (Retry-After)."""
        if self._rate is None:
            return None
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.get(key, (self._burst, now))
            tokens = min(self._burst, tokens + (now - last) * self._rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return None
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self._rate))


@dataclass(frozen=True)
class Tier:
    """A per-workspace limit: `per_minute` calls of each method (None: unlimited), of which up to
    `burst` may come at once. The default burst is a whole minute's allowance, which is how a
    per-minute window like Slack's behaves when a quiet app suddenly calls."""

    per_minute: float | None
    burst: int | None = None

    def limiter(self, clock: Clock) -> RateLimiter:
        rate = None if self.per_minute is None else self.per_minute / 60.0
        burst = self.burst if self.burst is not None else max(1, int(self.per_minute or 1))
        return RateLimiter(rate, burst, clock)


SLACK_TIER_3 = Tier(50)
SLACK_TIER_4 = Tier(100)


class WorkspaceLimits:
    """Tier 3 and Tier 4: one bucket per method for the whole workspace, whatever the channel."""

    def __init__(self, tier3: Tier, tier4: Tier, clock: Clock) -> None:
        self._tier3 = tier3.limiter(clock)
        self._tier4 = tier4.limiter(clock)

    def take(self, method: str) -> int | None:
        """None when `method` may be called now, else the Retry-After in whole seconds."""
        if method in TIER_3_METHODS:
            return self._tier3.take(method)
        if method in TIER_4_METHODS:
            return self._tier4.take(method)
        return None


@dataclass
class Fault:
    """One injected failure. `applied=True` means the call takes effect before failing (a lost reply)."""

    status: int | None = None
    error: str | None = None
    delay_seconds: float = 0.0
    applied: bool = False
    remaining: int = 1

    @property
    def fails(self) -> bool:
        return self.status is not None or self.error is not None


class FaultQueue:
    """Faults waiting per method name; `"*"` matches any method. Each fault fires `remaining` times.

    A stalled call waits in `stall`, which `clear` cuts short: the end of an outage also answers
    the calls hanging in it, so a test need not wait out a 10-second stall it has already judged."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[Fault]] = {}
        self._lock = threading.Lock()
        self._cleared = threading.Condition()
        self._generation = 0

    def stall(self, seconds: float) -> None:
        with self._cleared:
            generation = self._generation
            self._cleared.wait_for(lambda: self._generation != generation, timeout=seconds)

    def add(self, method: str, fault: Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._queues.setdefault(method, deque()).append(fault)

    def take(self, method: str) -> Fault | None:
        with self._lock:
            for key in (method, "*"):
                queue = self._queues.get(key)
                if queue:
                    fault = queue[0]
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        queue.popleft()
                    return fault
            return None

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()
        with self._cleared:
            self._generation += 1
            self._cleared.notify_all()
