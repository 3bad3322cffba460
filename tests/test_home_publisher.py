"""Two publishers (two processes' worth) on one database and one simulated Slack: every owed Home
is published exactly once, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.devkit.simulator import SlackSimulator
from bot.domain.records import CaseSnapshot
from bot.outbox.home_publisher import HomePublisher, PublishPace
from storage.home_store import HomeStore
from tests.support.clock import FakeClock
from tests.support.race import race

pytestmark = pytest.mark.backends("sqlite", "postgresql")
TOKEN = "xoxb-home"


@dataclass(frozen=True)
class Page:
    view: dict[str, Any]
    cases: list[CaseSnapshot] = field(default_factory=list)
    departments: tuple[str, ...] = ()


def test_two_publishers_publish_each_owed_home_once(database):
    clock = FakeClock()
    store = HomeStore(database)
    people = [f"U{n:03d}" for n in range(40)]
    for person in people:
        store.opened(person, clock())
    with SlackSimulator(bot_token=TOKEN, clock=clock.timestamp) as simulator:
        for person in people:
            simulator.add_user(person, person.lower(), f"Person {person}")
        client = WebClient(token=TOKEN, base_url=simulator.api_url)

        def publisher() -> HomePublisher:
            def render(user: str) -> Page:
                return Page(
                    {
                        "type": "home",
                        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": user}}],
                    }
                )

            return HomePublisher(
                store=store,
                client=client,
                render=render,
                clock=clock,
                pace=PublishPace(per_minute=6000, burst=100, clock=clock.timestamp),
            )

        publishers = [publisher(), publisher()]
        for _ in range(3):  # a run takes a batch at a time
            race(2, lambda i: publishers[i].run())
        calls = simulator.calls_to("views.publish")
        assert sorted(call.params["user_id"] for call in calls) == people
        assert store.due(clock() + timedelta(hours=1), 100) == []
