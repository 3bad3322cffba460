"""Posting at Slack's pace: about one message per second per channel, with short bursts, and
nothing at all to a channel while Slack has told us to wait (HTTP 429 `Retry-After`).

Nothing here sleeps. A post that would go too fast is given the next free slot of its channel
(booked under the caller's key) and refused with `MustWait`; the caller comes back when the slot
is due and goes at once. So one busy channel never holds the outbox thread, and with it every
other channel's posts and updates, while posts in a channel keep their order.

Edits (chat.update) are not limited per channel but per workspace, across all channels (Slack's
Tier 3, about 50 a minute): one more schedule, for the workspace, paces them. Part of its burst is
kept for edits a person's click caused (`urgent`), so a backlog of background edits (overdue
refreshes after a sweep) can never make a click wait for the next free minute.

In-process. Several bot processes each keep their own pace; a 429 that results is honoured like
any other. `clock` is injected so tests move time instead of waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

EARLY = 0.05  # a caller woken this much before its slot (timer granularity) may still go
FORGOTTEN = 60.0  # a booked slot unused for this long was abandoned (the work went elsewhere)
# Slack's Tier 3 is 50 edits a minute per workspace; a little under it leaves room for another
# process's edits and for the difference between when we count an edit and when Slack does.
EDITS_PER_MINUTE = 45.0
EDIT_BURST = 40
CLICK_RESERVE = 10  # of the edit burst, kept for edits a click caused


class MustWait(Exception):
    """Not now: come back in `seconds`. Nothing was sent, so nothing is uncertain."""

    def __init__(self, channel: str, seconds: float) -> None:
        super().__init__(f"{channel}: posting again in {seconds:.1f} s")
        self.channel = channel
        self.seconds = seconds


@dataclass
class _Channel:
    next_slot: float  # the plan: when the next post beyond the burst may go
    sent: float  # the same schedule counted from when posts came back, as Slack saw them
    held_until: float = 0.0
    booked: dict[str, float] = field(default_factory=dict)  # key -> slot time, in slot order


class ChannelPacer:
    """A token bucket per channel, kept as a schedule (GCRA): a channel may run up to `burst - 1`
    intervals ahead of its schedule, so a quiet channel posts a burst at once, then one per
    interval. Posts are counted both when they are allowed (the plan, which hands out slots)
    and when they come back (what Slack saw); a post goes only when both have room."""

    def __init__(
        self,
        *,
        per_second: float = 1.0,
        burst: int = 5,
        clock: Callable[[], float] = time.monotonic,
        edits_per_minute: float = EDITS_PER_MINUTE,
        edit_burst: int = EDIT_BURST,
        click_reserve: int = CLICK_RESERVE,
    ) -> None:
        self.interval = 1.0 / per_second
        self.ahead = (burst - 1) * self.interval  # how far ahead of its schedule a channel may run
        self.clock = clock
        self._channels: dict[str, _Channel] = {}
        self._lock = threading.Lock()
        self.edit_interval = 60.0 / edits_per_minute
        self._edit_ahead = (edit_burst - 1) * self.edit_interval  # for a click's edit
        self._background_ahead = max(edit_burst - click_reserve - 1, 0) * self.edit_interval
        self._edits_next = clock()  # the workspace's edit schedule (GCRA)
        self._edits_held_until = 0.0

    def _state(self, channel: str, now: float) -> _Channel:
        return self._channels.setdefault(channel, _Channel(next_slot=now, sent=now))

    def before_post(self, channel: str, key: str) -> None:
        """Return when a post to `channel` may go now; else book the next slot for `key` and
        raise `MustWait` with the time until it. Coming back with the same key at that time goes."""
        with self._lock:
            now = self.clock()
            state = self._state(channel, now)
            state.booked = {k: t for k, t in state.booked.items() if t > now - FORGOTTEN}
            slot = state.booked.get(key)
            if slot is not None:
                # Its slot is in the plan; it may still have to wait if posts before it came
                # back later than planned (a slow call, a caller back late for its own slot).
                room_at = state.sent - self.ahead
                if slot > now + EARLY or room_at > now:
                    raise MustWait(channel, max(slot, room_at) - now)
                del state.booked[key]
                return
            start = max(state.next_slot, state.sent, now)
            free_at = start - self.ahead
            state.next_slot = start + self.interval
            if free_at <= now:
                return
            state.booked[key] = free_at
            raise MustWait(channel, free_at - now)

    def ready(self, channel: str, key: str) -> float:
        """Seconds until a post to `channel` under `key` may go (0: now), booking its slot, which
        the post's `before_post` then takes. Lets a caller find a busy channel before it spends
        any work (a lease, a render) on a post that could not go anyway."""
        with self._lock:
            now = self.clock()
            state = self._state(channel, now)
            state.booked = {k: t for k, t in state.booked.items() if t > now - FORGOTTEN}
            slot = state.booked.get(key)
            if slot is None:
                start = max(state.next_slot, state.sent, now)
                slot = start - self.ahead
                state.next_slot = start + self.interval
                state.booked[key] = slot
            room_at = state.sent - self.ahead
            if slot > now + EARLY or room_at > now:
                return max(slot, room_at) - now
            return 0.0

    def before_edit(self, *, urgent: bool) -> None:
        """Return when an edit may go now (counting it), else raise `MustWait`. A background edit
        leaves the last `click_reserve` of the burst to edits clicks cause."""
        with self._lock:
            now = self.clock()
            ahead = self._edit_ahead if urgent else self._background_ahead
            start = max(self._edits_next, self._edits_held_until, now)
            free_at = start - ahead
            if free_at > now + EARLY:
                raise MustWait("edits", free_at - now)
            self._edits_next = start + self.edit_interval

    def hold_edits(self, seconds: float) -> None:
        """Slack said 429 to an edit: no edits for `seconds`, then one per interval (no burst)."""
        with self._lock:
            now = self.clock()
            self._edits_held_until = max(self._edits_held_until, now + seconds)
            self._edits_next = max(self._edits_next, self._edits_held_until + self._edit_ahead)

    def posted(self, channel: str) -> None:
        """A post to `channel` just came back. Slack counted it on arrival, at the latest now,
        which may be later than planned (a slow database write or network in between)."""
        with self._lock:
            now = self.clock()
            state = self._state(channel, now)
            state.sent = max(state.sent, now) + self.interval

    def hold(self, channel: str, seconds: float, *, first: str | None = None) -> None:
        """Slack said 429 with Retry-After: nothing to this channel for `seconds`, then one post
        per interval (no burst): `first` (the refused post), then the booked ones in order."""
        with self._lock:
            now = self.clock()
            state = self._state(channel, now)
            state.held_until = max(state.held_until, now + seconds)
            state.sent = state.held_until + self.ahead
            waiting = sorted(state.booked, key=state.booked.__getitem__)
            if first is not None:
                waiting = [first, *(key for key in waiting if key != first)]
            state.booked = {key: state.held_until + i * self.interval for i, key in enumerate(waiting)}
            state.next_slot = state.sent + len(waiting) * self.interval
