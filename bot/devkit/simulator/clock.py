"""A manually advanced clock, so tests can move time for rate limits and trigger expiry without sleeping."""

from __future__ import annotations

import threading
import time


class ManualClock:
    """Callable returning seconds since the epoch; only moves when told to.

    Starts at the real time by default so signatures the driver makes still pass a bot's
    five-minute timestamp check.
    """

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            self._now += seconds
