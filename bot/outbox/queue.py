"""Where the outbox worker runs: a small pool of background threads, so acks and intake never
wait on Slack and one slow Slack answer never holds up the rest.

Work that pacing put off comes back by itself when its slot is due (`Later`), instead of
waiting for the next sweep; the outbox thread itself never sleeps.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

from bot.outbox.worker import OutboxWorker
from storage.db import log_failure
from storage.outbox_store import OutboxState

log = logging.getLogger(__name__)

# Come back a little after the slot: Slack counts from when a post arrives, which is a little
# after we counted it, and a timer woken a hair early would otherwise earn a 429.
MARGIN_SECONDS = 0.1
LaterKey = int | str | None  # a case id, a named unit of work (e.g. "home"), or None: the notices


class Later:
    """Calls `action(key)` after a delay, on one timer thread; a key already waiting keeps the
    earlier of its two times. Started on first use, so building a runtime starts no thread."""

    def __init__(
        self,
        action: Callable[[LaterKey], None],
        *,
        clock: Callable[[], float] = time.monotonic,
        poll_seconds: float = 60.0,
    ) -> None:
        self.action = action
        self.clock = clock
        self.poll_seconds = poll_seconds  # the longest it waits before reading the clock again
        self._due: dict[LaterKey, float] = {}
        self._heap: list[tuple[float, int, LaterKey]] = []
        self._order = 0  # ties keep the order of asking; None keys are not comparable
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def call_later(self, key: LaterKey, seconds: float) -> None:
        with self._wake:
            if self._stopped:
                return
            at = self.clock() + max(seconds, 0.0)
            if key in self._due and self._due[key] <= at:
                return
            self._due[key] = at
            self._order += 1
            heapq.heappush(self._heap, (at, self._order, key))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="closeloop-later", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _next_due(self) -> tuple[LaterKey] | None:
        """(the next key whose time has come,), waiting for it; None once stopped."""
        with self._wake:
            while not self._stopped:
                while self._heap and self._due.get(self._heap[0][2]) != self._heap[0][0]:
                    heapq.heappop(self._heap)  # superseded by an earlier time for the same key
                if not self._heap:
                    self._wake.wait()
                    continue
                at, _, key = self._heap[0]
                wait = at - self.clock()
                if wait > 0:
                    self._wake.wait(min(wait, self.poll_seconds))
                    continue
                heapq.heappop(self._heap)
                del self._due[key]
                return (key,)
            return None

    def _run(self) -> None:
        while (due := self._next_due()) is not None:
            try:
                self.action(due[0])
            except Exception:
                log.exception("could not queue deferred work for case %s; the next sweep does it", due[0])

    def pending(self) -> int:
        with self._wake:
            return len(self._due)

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._due.clear()
            self._heap.clear()
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)


class Priority(IntEnum):
    """Which work goes first when several wait: a person's click, then new work (intake), then
    the background (sweeps, deadline refreshes, paced work coming back)."""

    CLICK = 0
    NEW = 1
    BACKGROUND = 2


SWEEP = "sweep"  # the key of a sweep request; case ids are ints, the notices None
Key = int | str | None
Lane = tuple[str, str | int | None]


@dataclass(order=True)
class _Entry:
    priority: int
    seq: int
    key: Key = field(compare=False)
    urgent: bool = field(compare=False, default=False)


class OutboxQueue:
    """A small pool of outbox threads (`threads`, 4 by default) fed by one priority queue.

    Slack calls are I/O: while one waits (up to the client's 15 s timeout) the others go on, so a
    slow answer holds up only what must come after it. Work runs in lanes: a case whose message is
    still to be posted queues behind the other first posts of its channel (so they reach Slack
    in order), everything else only behind itself. A key asked for while queued is not queued
    twice (a later click only raises its priority); asked for while running, it runs once more
    afterwards, so edits of one message coalesce into the latest. The pool stays small: the work
    is I/O-bound, and the listener threads that answer clicks need the GIL more than it does.

    `wait_idle` lets tests and the demo wait for the work they caused, without sleeping.
    `come_back_later=False` leaves paced work to the sweep: for a workspace simulated on a clock
    that only moves when told, where a timer in real seconds would mean nothing."""

    def __init__(self, worker: OutboxWorker, *, come_back_later: bool = True, threads: int = 4) -> None:
        self.worker = worker
        self.threads = threads
        self._cond = threading.Condition()
        self._picking = threading.Lock()  # one thread at a time takes work and places it in its lane
        self._heap: list[_Entry] = []
        self._queued: dict[Key, _Entry] = {}  # the live entry of each key waiting
        self._running: set[Key] = set()
        self._again: dict[Key, _Entry] = {}  # asked for again while running
        self._busy_lanes: set[Lane] = set()
        self._lanes: dict[Lane, list[_Entry]] = {}  # work waiting for its lane, by priority
        self._seq = 0
        self._pool: list[threading.Thread] = []
        self._stopped = False
        self.later = Later(self._ask)
        self._units: dict[str, Callable[[], None]] = {}  # named work of its own (the Home publisher)
        if come_back_later:
            worker.on_deferred = self.come_back_later

    def come_back_later(self, case_id: int | None, seconds: float) -> None:
        """Deliver the case (None: the notices) again once `seconds` have passed."""
        self.later.call_later(case_id, seconds + MARGIN_SECONDS)

    def request(self, case_id: int | None, priority: Priority = Priority.NEW) -> None:
        """Deliver one case soon; None means the case-less notices."""
        self._ask(case_id, priority)

    def request_sweep(self) -> None:
        """Sweep soon; a sweep already waiting to run covers this request too."""
        self._ask(SWEEP, Priority.BACKGROUND)

    def add_unit(self, name: str, work: Callable[[], None]) -> None:
        """Named work that runs on the pool like a case (coalesced, in a lane of its own) when
        requested, at each sweep, and when it asked to come back (`come_back_unit`)."""
        self._units[name] = work

    def request_unit(self, name: str, priority: Priority = Priority.NEW) -> None:
        self._ask(name, priority)

    def come_back_unit(self, name: str, seconds: float) -> None:
        self.later.call_later(name, seconds + MARGIN_SECONDS)

    def _ask(self, key: Key, priority: Priority = Priority.NEW) -> None:
        with self._cond:
            if self._stopped:
                return
            self._seq += 1
            entry = _Entry(int(priority), self._seq, key, urgent=priority == Priority.CLICK)
            if key in self._running:
                again = self._again.get(key)
                if again is None or entry < again:
                    self._again[key] = entry
                return
            queued = self._queued.get(key)
            if queued is not None and not entry < queued:
                return
            self._queued[key] = entry
            heapq.heappush(self._heap, entry)
            if len(self._pool) < self.threads:
                thread = threading.Thread(
                    target=self._serve, name=f"closeloop-outbox-{len(self._pool)}", daemon=True
                )
                self._pool.append(thread)
                thread.start()
            self._cond.notify()

    # ---- the pool --------------------------------------------------------------------------

    def _live(self, entry: _Entry) -> bool:
        return self._queued.get(entry.key) is entry

    def _serve(self) -> None:
        while (picked := self._pick()) is not None:
            entry, lane, state = picked
            while entry is not None:
                self._run(entry, state)
                entry, state = self._finished(entry, lane), None

    def _pick(self) -> tuple[_Entry, Lane, OutboxState | None] | None:
        """The most urgent work whose lane is free (work for a busy lane is parked in it)."""
        with self._picking:
            while True:
                with self._cond:
                    while not self._stopped and not self._heap:
                        self._cond.wait()
                    if self._stopped:
                        return None
                    entry = heapq.heappop(self._heap)
                    if not self._live(entry):
                        continue  # superseded by a more urgent request for the same key
                lane, state = self._lane(entry.key)
                with self._cond:
                    if not self._live(entry):
                        continue
                    if lane in self._busy_lanes:
                        heapq.heappush(self._lanes.setdefault(lane, []), entry)
                        continue
                    self._busy_lanes.add(lane)
                    self._take(entry)
                    return entry, lane, state

    def _lane(self, key: Key) -> tuple[Lane, OutboxState | None]:
        if not isinstance(key, int):
            return ("own", key), None
        try:
            kind, name, state = self.worker.lane_of(key)
        except Exception as error:  # the database is away: deliver_case meets it again and says so
            log_failure(log, f"finding the lane of case {key}", error)
            return ("case", key), None
        return (kind, name), state

    def _take(self, entry: _Entry) -> None:
        del self._queued[entry.key]
        self._running.add(entry.key)

    def _finished(self, entry: _Entry, lane: Lane) -> _Entry | None:
        """Done with `entry`: queue it again if it was asked for meanwhile, and hand back the next
        work waiting in its lane (the lane stays this thread's), or free the lane."""
        with self._cond:
            self._running.discard(entry.key)
            again = self._again.pop(entry.key, None)
            if again is not None and not self._stopped:
                self._queued[entry.key] = again
                heapq.heappush(self._heap, again)
                self._cond.notify()
            waiting = self._lanes.get(lane, [])
            while waiting:
                following = heapq.heappop(waiting)
                if self._live(following):
                    self._take(following)
                    return following
            self._lanes.pop(lane, None)
            self._busy_lanes.discard(lane)
            self._cond.notify_all()  # wait_idle, and pickers
            return None

    def _run(self, entry: _Entry, state: OutboxState | None) -> None:
        key = entry.key
        try:
            if key == SWEEP:
                for case_id in self.worker.owed_work():
                    self.request(case_id, Priority.BACKGROUND)
                self.request(None, Priority.BACKGROUND)
                for name in self._units:
                    self.request_unit(name, Priority.BACKGROUND)
            elif isinstance(key, str):
                self._units[key]()
            elif key is None:
                self.worker.deliver_notices()
            else:
                assert isinstance(key, int)
                self.worker.deliver_case(key, urgent=entry.urgent, state=state)
        except Exception as error:
            what = (
                "outbox sweep"
                if key == SWEEP
                else f"the {key} work"
                if isinstance(key, str)
                else f"delivering case {key}"
                if key
                else "delivering notices"
            )
            log_failure(log, what, error)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._queued and not self._running, timeout=timeout)

    def shutdown(self) -> None:
        """Finish what is running; what is only queued or put off stays owed in the database."""
        self.later.stop()
        with self._cond:
            self._stopped = True
            self._queued.clear()
            self._again.clear()
            self._heap.clear()
            self._lanes.clear()
            self._cond.notify_all()
        for thread in self._pool:
            thread.join(timeout=30)
        self.worker.leases.stop()
