"""Posting at Slack's pace: about one message per second per channel, with short bursts, and
nothing at all to a channel while Slack has told us to wait (HTTP 429 `Retry-After`).

In-process and per channel. Several bot processes each keep their own pace; a 429 that results
is honoured like any other. `sleep` and `clock` are injected so tests move time instead of waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


class MustWait(Exception):
    """The channel is held longer than is worth blocking for: leave the work for a later sweep."""

    def __init__(self, channel: str, seconds: float) -> None:
        super().__init__(f"{channel}: Slack asked us to wait {seconds:.0f} s")
        self.channel = channel
        self.seconds = seconds


@dataclass
class _Bucket:
    tokens: float
    updated: float
    held_until: float = 0.0


class ChannelPacer:
    def __init__(
        self,
        *,
        per_second: float = 1.0,
        burst: int = 5,
        max_wait: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_second = per_second
        self.burst = burst
        self.max_wait = max_wait
        self.clock = clock
        self.sleep = sleep
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def _reserve(self, channel: str) -> float:
        """Take a slot; how long to wait before using it (it may be in the future)."""
        with self._lock:
            now = self.clock()
            bucket = self._buckets.setdefault(channel, _Bucket(float(self.burst), now))
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.per_second)
            bucket.updated = now
            wait = max(0.0, bucket.held_until - now)
            if bucket.tokens < 1:
                wait = max(wait, (1 - bucket.tokens) / self.per_second)
            if wait > self.max_wait:
                raise MustWait(channel, wait)
            bucket.tokens -= 1
            return wait

    def before_post(self, channel: str) -> None:
        """Block until a post to `channel` is within pace (a second or so at most)."""
        wait = self._reserve(channel)
        if wait > 0:
            self.sleep(wait)

    def hold(self, channel: str, seconds: float) -> None:
        """Slack said 429 with Retry-After: nothing to this channel for `seconds`."""
        with self._lock:
            now = self.clock()
            bucket = self._buckets.setdefault(channel, _Bucket(0.0, now))
            bucket.held_until = max(bucket.held_until, now + seconds)
            bucket.tokens = 0.0
            bucket.updated = now
