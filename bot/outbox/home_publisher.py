"""Publishing owed App Home refreshes (`views.publish`), paced and coalesced, from rows.

A change to a case owes a refresh to each Home showing it (storage.home_store), due a moment
later (`SETTLE`): the changes of that moment, however many, make one publish. The worker owes
them when it brings a changed case's message up to date, which every change of a case goes
through, and which is owed durably itself (the case's version), so a crash loses no refresh.

`views.publish` is Slack's Tier 4 (100+ a minute per workspace): one schedule per process
(`PublishPace`) spreads publishes under it, so many viewers are refreshed one after another,
the longest waiting first, and the rest wait for their slot rather than earning a 429; a 429
that comes anyway (another process, another app) holds every publish for its Retry-After.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.domain.records import CaseSnapshot
from bot.outbox.failures import Kind, backoff, classify
from storage.db import log_failure
from storage.home_store import HomeStore, Lease

log = logging.getLogger(__name__)

SETTLE = timedelta(seconds=2)  # changes within this of the first make one publish
LEASE = timedelta(seconds=30)  # longer than a publish can take (the client's 15 s timeout)
PUBLISHES_PER_MINUTE = 80.0  # under Tier 4's 100, leaving room for another process and for clocks
PUBLISH_BURST = 10
BATCH = 20  # Homes taken per run; the run asks to come back for the rest
NOBODY_RECHECK = 5.0  # seconds between asking whether anyone has opened Home yet
MAX_FAILURES = 8  # then given up until the next change (a view Slack refuses is logged as an error)


class Page(Protocol):
    @property
    def view(self) -> dict[str, Any]: ...
    @property
    def cases(self) -> Sequence[CaseSnapshot]: ...
    @property
    def departments(self) -> Sequence[str]: ...


class PublishPace:
    """The workspace's schedule for views.publish (GCRA): up to `burst` at once, then one per
    interval; `hold` after a 429. Thread-safe; `clock` in seconds, injected so tests move it."""

    def __init__(
        self,
        *,
        per_minute: float = PUBLISHES_PER_MINUTE,
        burst: int = PUBLISH_BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = 60.0 / per_minute
        self.ahead = (burst - 1) * self.interval
        self.clock = clock
        self._next = clock()
        self._held_until = 0.0
        self._lock = threading.Lock()

    def ready(self) -> float:
        """Seconds until a publish may go (0: now), counting nothing."""
        with self._lock:
            return self._wait(self.clock())

    def take(self) -> float:
        """0 when a publish may go now (it is counted), else the seconds until one may."""
        with self._lock:
            now = self.clock()
            wait = self._wait(now)
            if wait == 0:
                self._next = max(self._next, now) + self.interval
            return wait

    def _wait(self, now: float) -> float:
        free_at = max(max(self._next, now) - self.ahead, self._held_until)
        return max(free_at - now, 0.0)

    def hold(self, seconds: float) -> None:
        with self._lock:
            now = self.clock()
            self._held_until = max(self._held_until, now + seconds)
            self._next = max(self._next, self._held_until + self.ahead)


class HomePublisher:
    def __init__(
        self,
        *,
        store: HomeStore,
        client: WebClient,
        render: Callable[[str], Page],
        clock: Callable[[], datetime],
        pace: PublishPace | None = None,
        rate_limited: Callable[[str], None] = lambda _method: None,
    ) -> None:
        self.store = store
        self.client = client
        self.render = render
        self.clock = clock
        self.pace = pace or PublishPace()
        self.rate_limited = rate_limited
        # Told how many seconds until more is due: the queue comes back then (else the next sweep).
        self.on_deferred: Callable[[float], None] = lambda _seconds: None
        self._someone_looks = False  # once someone opened Home, every change looks for viewers
        self._asked_at = float("-inf")

    def case_changed(self, case: CaseSnapshot) -> None:
        """The outbox is bringing `case`'s message up to date: owe the Homes showing it a refresh.
        Never raises: a Home refresh must not stand in the way of the case message."""
        try:
            if not self._anyone_looking():
                return
            owed = self.store.owe_for_case(case, self.clock() + SETTLE)
        except Exception as error:
            log_failure(log, f"owing Home refreshes for case {case.id}", error)
            return
        if owed:
            self.on_deferred(SETTLE.total_seconds())

    def opened(self) -> None:
        """Someone opened Home in this process: from now on changes look for viewers at once."""
        self._someone_looks = True

    def _anyone_looking(self) -> bool:
        """Until anyone has opened Home, a change has no one to refresh: the rows are asked at
        most every `NOBODY_RECHECK` seconds (and this process knows at once of an open it
        handled), so a workspace that never uses Home pays one read per interval, not a write
        per case. Someone's very first open in another process may so miss the changes of those
        few seconds; their next change or open brings their Home up to date."""
        if self._someone_looks:
            return True
        now = self.clock().timestamp()
        if not now - NOBODY_RECHECK < self._asked_at <= now:
            self._asked_at = now
            self._someone_looks = self.store.anyone_opened()
        return self._someone_looks

    def run(self) -> int:
        """Publish the Homes due now, paced; how many were published."""
        if not self._anyone_looking():
            return 0
        published = 0
        for user in self.store.due(self.clock(), BATCH):
            wait = self.pace.ready()
            if wait > 0:  # no slot yet: come back for it (and the rest) when there is one
                self.on_deferred(wait)
                return published
            now = self.clock()
            lease = self.store.lease(user, now, now + LEASE)
            if lease is None:
                continue  # someone else is publishing it
            wait = self.pace.take()
            if wait > 0:  # taken meanwhile (a 429 held the pace): not tried, due again then
                self.store.put_off(lease, now + timedelta(seconds=wait))
                self.on_deferred(wait)
                return published
            published += self._publish(lease)
        self._come_back()
        return published

    def _come_back(self) -> None:
        due = self.store.next_due()
        if due is not None:
            self.on_deferred(max((due - self.clock()).total_seconds(), 0.0))

    def _publish(self, lease: Lease) -> int:
        try:
            page = self.render(lease.user)
            self.store.record_shown(lease, page.cases, page.departments)
        except Exception as error:
            log_failure(log, f"rendering the Home of {lease.user}", error)
            given_up = lease.failures + 1 >= MAX_FAILURES
            self.store.failed(
                lease, f"render: {type(error).__name__}", None if given_up else self._retry_at(lease, None)
            )
            return 0
        try:
            self.client.views_publish(user_id=lease.user, view=page.view)
        except (SlackApiError, OSError) as error:
            self._failed(lease, error)
            return 0
        now = self.clock()
        if not self.store.published(lease, now, now + SETTLE):
            log.warning("Home of %s: lease lost while publishing; whoever has it publishes again", lease.user)
        return 1

    def _failed(self, lease: Lease, error: Exception) -> None:
        failure = classify(error, None)
        if failure.retry_after is not None:
            self.rate_limited("views.publish")
            self.pace.hold(failure.retry_after)
        retry_at = self._retry_at(lease, failure.retry_after)
        if failure.kind is Kind.OTHER and lease.failures + 1 >= MAX_FAILURES:
            log.error("Home of %s: gave up after %s tries: %s", lease.user, MAX_FAILURES, failure.reason)
            retry_at = None
        else:
            log.warning("Home of %s not published (%s); retrying at %s", lease.user, failure.reason, retry_at)
        self.store.failed(lease, failure.reason, retry_at)

    def _retry_at(self, lease: Lease, retry_after: float | None) -> datetime:
        if retry_after is not None:
            return self.clock() + timedelta(seconds=retry_after)
        return self.clock() + backoff(lease.failures + 1)
