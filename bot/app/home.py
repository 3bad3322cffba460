"""The App Home tab as a use case: someone opens it (remembered, and owed a refresh at once), and
what a person's Home shows now, rendered for the publisher (bot.outbox.home_publisher)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.domain.home import HomeContent, month_start, queue_of
from bot.domain.policy import Policy
from bot.domain.records import CaseSnapshot
from bot.slack.home import MINE_LISTED, QUEUE_LISTED, Link, home_view, shown_cases
from storage.home_store import HomeStore

# Someone who has not opened Home for this long is no longer refreshed (until they open it again).
IDLE_AFTER = timedelta(days=30)


@dataclass(frozen=True)
class HomePage:
    """A Home view ready to publish, and what it shows: a later change to one of `cases`, or a
    new unclaimed case in one of `departments`, owes its viewer a refresh."""

    view: dict[str, Any]
    cases: list[CaseSnapshot]
    departments: tuple[str, ...]


class HomeTab:
    def __init__(
        self,
        store: HomeStore,
        policy: Policy,
        clock: Callable[[], datetime],
        publish_soon: Callable[[], None],
        link: Link | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.publish_soon = publish_soon  # asks the publisher to run (after the owed row is written)
        self.link = link

    def opened(self, user: str) -> None:
        """`user` opened their Home tab: from now on changes to what it shows refresh it."""
        self.store.opened(user, self.clock())
        self.publish_soon()

    def forget_idle(self) -> int:
        return self.store.forget_idle(self.clock() - IDLE_AFTER)

    def content(self, user: str) -> HomeContent:
        now = self.clock()
        queue = queue_of(self.policy, user)
        mine_total, mine = self.store.open_cases_of(user, MINE_LISTED)
        queue_total, queued = self.store.unclaimed(queue.departments, QUEUE_LISTED)
        return HomeContent(
            user=user,
            now=now,
            mine_total=mine_total,
            mine=mine,
            queue=queue,
            queue_total=queue_total,
            queued=queued,
            figures=self.store.month_figures(user, month_start(now), now),
        )

    def page(self, user: str) -> HomePage:
        content = self.content(user)
        return HomePage(
            view=home_view(content, self.policy, self.link),
            cases=shown_cases(content),
            departments=content.queue.departments,
        )
