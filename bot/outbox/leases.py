"""Short leases, renewed while the work goes on: a case is held for `lease_seconds` (a few seconds)
and a keeper thread renews every lease this process holds every `renew_seconds`. A process killed
with `kill -9`, or one whose database connection dropped, stops renewing, so its cases are free
again seconds later instead of minutes.

A lease is fenced by its own expiry time: it is renewed and given back only where the row still
shows the time this process wrote (`WHERE sync_lease_until = ours`). So a process that lost its
lease (it could not renew in time, another took the case) can neither extend nor free the new
holder's lease, and it learns of the loss (`held` turns False) before its next Slack call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

log = logging.getLogger(__name__)

LEASE_SECONDS = 4.0  # a dead process's cases are free again after at most this
RENEW_SECONDS = 1.3  # three chances to renew before a lease runs out

# (case id, the expiry this process holds, the new expiry) -> True when renewed
Renew = Callable[[int, datetime, datetime], bool]


class LeaseLost(Exception):
    """This process no longer holds the case (it could not renew in time): stop, send nothing."""


class LeaseKeeper:
    def __init__(
        self,
        renew: Renew,
        clock: Callable[[], datetime],
        *,
        lease_seconds: float = LEASE_SECONDS,
        renew_seconds: float = RENEW_SECONDS,
    ) -> None:
        self.renew = renew
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.renew_seconds = renew_seconds
        self._held: dict[int, datetime] = {}  # case id -> the expiry the row shows for us
        self._lost: set[int] = set()
        self._io = threading.Lock()  # a renewal and a give-back of one lease never cross
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def until(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.lease_seconds)

    @contextmanager
    def holding(self, case_id: int, until: datetime) -> Iterator[None]:
        """Keep the lease on `case_id` (taken until `until`) renewed while the block runs."""
        with self._wake:
            self._held[case_id] = until
            self._lost.discard(case_id)
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(target=self._run, name="closeloop-leases", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._wake:
                self._held.pop(case_id, None)
                self._lost.discard(case_id)

    def current(self, case_id: int) -> datetime | None:
        """The expiry this process holds for `case_id` now (it changes at each renewal)."""
        with self._wake:
            return None if case_id in self._lost else self._held.get(case_id)

    def check(self, case_id: int) -> datetime:
        """The current expiry, or `LeaseLost` when the case was lost: called before each send."""
        until = self.current(case_id)
        if until is None:
            raise LeaseLost(f"case #{case_id}: lease lost")
        return until

    @contextmanager
    def giving_back(self, case_id: int) -> Iterator[datetime]:
        """The lease as it is now, with no renewal under way until the block has given it back."""
        with self._io:
            yield self.check(case_id)
            with self._wake:
                self._held.pop(case_id, None)  # given back: nothing left to renew

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait(self.renew_seconds)
                if self._stopped:
                    return
                held = dict(self._held)
            for case_id, until in held.items():
                with self._io:
                    if self.current(case_id) == until:  # not given back meanwhile
                        self._renew_one(case_id, until)

    def _renew_one(self, case_id: int, until: datetime) -> None:
        new_until = self.until(self.clock())
        try:
            renewed = self.renew(case_id, until, new_until)
        except Exception as error:  # the database is away: try again next round, while there is time
            log.warning("case #%s: could not renew its lease (%s)", case_id, type(error).__name__)
            if until <= self.clock():
                self._lose(case_id, until)
            return
        with self._wake:
            if self._held.get(case_id) != until:
                return  # finished meanwhile
            if renewed:
                self._held[case_id] = new_until
            else:
                self._lost.add(case_id)
        if not renewed:
            log.warning("case #%s: its lease ran out and was taken elsewhere; stopping", case_id)

    def _lose(self, case_id: int, until: datetime) -> None:
        with self._wake:
            if self._held.get(case_id) == until:
                self._lost.add(case_id)

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
