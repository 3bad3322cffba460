"""Where the outbox worker runs: one background thread, so acks and intake never wait on Slack.

Work that pacing put off comes back by itself when its slot is due (`Later`), instead of
waiting for the next sweep; the outbox thread itself never sleeps.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable

from bot.executor import TrackingExecutor
from bot.outbox.worker import OutboxWorker
from storage.db import log_failure

log = logging.getLogger(__name__)

# Come back a little after the slot: Slack counts from when a post arrives, which is a little
# after we counted it, and a timer woken a hair early would otherwise earn a 429.
MARGIN_SECONDS = 0.1


class Later:
    """Calls `action(key)` after a delay, on one timer thread; a key already waiting keeps the
    earlier of its two times. Started on first use, so building a runtime starts no thread."""

    def __init__(
        self,
        action: Callable[[int | None], None],
        *,
        clock: Callable[[], float] = time.monotonic,
        poll_seconds: float = 60.0,
    ) -> None:
        self.action = action
        self.clock = clock
        self.poll_seconds = poll_seconds  # the longest it waits before reading the clock again
        self._due: dict[int | None, float] = {}
        self._heap: list[tuple[float, int, int | None]] = []
        self._order = 0  # ties keep the order of asking; None keys are not comparable
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def call_later(self, key: int | None, seconds: float) -> None:
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

    def _next_due(self) -> tuple[int | None] | None:
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


class OutboxQueue:
    """`wait_idle` lets tests and the demo wait for the work they caused, without sleeping.

    `come_back_later=False` leaves paced work to the sweep: for a workspace simulated on a clock
    that only moves when told, where a timer in real seconds would mean nothing."""

    def __init__(self, worker: OutboxWorker, *, come_back_later: bool = True) -> None:
        self.worker = worker
        self._executor = TrackingExecutor(max_workers=1, thread_name_prefix="closeloop-outbox")
        self._lock = threading.Lock()
        self._queued_cases: set[int | None] = set()
        self._sweep_queued = False
        self.later = Later(self.request)
        if come_back_later:
            worker.on_deferred = self.come_back_later

    def come_back_later(self, case_id: int | None, seconds: float) -> None:
        """Deliver the case (None: the notices) again once `seconds` have passed."""
        self.later.call_later(case_id, seconds + MARGIN_SECONDS)

    def request(self, case_id: int | None) -> None:
        """Deliver one case soon; None means the case-less notices."""
        with self._lock:
            if case_id in self._queued_cases:
                return
            self._queued_cases.add(case_id)
        self._executor.submit(self._run, case_id)

    def request_sweep(self) -> None:
        """Sweep soon; a sweep already waiting to run covers this request too."""
        with self._lock:
            if self._sweep_queued:
                return
            self._sweep_queued = True
        self._executor.submit(self._run_sweep)

    def _run(self, case_id: int | None) -> None:
        with self._lock:
            self._queued_cases.discard(case_id)
        try:
            if case_id is None:
                self.worker.deliver_notices()
            else:
                self.worker.deliver_case(case_id)
        except Exception as error:
            log_failure(log, f"delivering case {case_id}" if case_id else "delivering notices", error)

    def _run_sweep(self) -> None:
        with self._lock:
            self._sweep_queued = False
        try:
            self.worker.sweep()
        except Exception as error:
            log_failure(log, "outbox sweep", error)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        return self._executor.wait_idle(timeout)

    def shutdown(self) -> None:
        """Finish what is running; what is only queued or put off stays owed in the database."""
        self.later.stop()
        self._executor.shutdown(wait=True, cancel_futures=True)
