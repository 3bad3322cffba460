"""Rate limiting and fault injection: the two ways the simulator makes a healthy bot see trouble."""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

from bot.devkit.simulator.models import Clock


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
    """Faults waiting per method name; `"*"` matches any method. Each fault fires `remaining` times."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[Fault]] = {}
        self._lock = threading.Lock()

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
