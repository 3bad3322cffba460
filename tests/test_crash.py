"""`kill -9` in the middle of a rush: what was acknowledged is stored, and after a restart Slack
catches up with every case and every delivery exactly once.

A real `closeloop run` process serves the intake while threads fire survey responses at it; the
process is SIGKILLed once half of them were answered (no handler runs, leases stay taken, a post
may be on its way to Slack). A second `closeloop run` on the same database and the same simulated
Slack must then bring Slack up to date without posting anything twice. The restarted process runs
with its clock three minutes ahead (moved, not waited for), so the dead process's two-minute
leases have expired as they would have by the time it came back.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bot.devkit.local_stack import seed_workspace
from bot.devkit.simulator import SlackSimulator
from bot.policy_file import load_policy
from storage.db import Database
from tests.factories import payload
from tests.support.crash_helpers import (
    EXAMPLE_POLICY,
    BotProcess,
    bot_messages,
    case_messages,
    case_rows,
    delivery_rows,
    exactly_once_problems,
    external_ids,
    owed,
    wait_until,
)
from tests.support.databases import empty_tables

pytestmark = [pytest.mark.process, pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")]

CHANNELS = ("C0SUPPORT", "C0BILLING", "C0PRODUCT", "C0WINS")
LEASE_SECONDS = 120  # a lease's length once: the restart below moves its clock past even that
RESTART_AHEAD = LEASE_SECONDS + 60
# bot/outbox/leases.py LEASE_SECONDS (4 s) plus start-up and a sweep's come-back: far below 120 s
LEASE_AFTER_KILL = 12.0
WORKERS = 6


KINDS = [  # (what else the response says, its comment, the comment of its update): two per channel
    ({}, "Charged twice, refund please.", "The refund still has not arrived."),  # billing case
    ({}, "Export fails.", "Export still failing today."),  # support case
    ({"tags": ["bug"]}, "Crashes on save.", "Still broken."),  # product case
    ({"score": 10, "tags": ["feature-request"]}, "Love it.", "Thanks again!"),  # product notice
    ({"score": 7}, "The pricing is steep.", "The price, still."),  # billing case (a passive)
    ({"score": 9}, "Great support.", "Really great."),  # support notice
]


def response(number: int, *, update: bool = False) -> dict[str, Any]:
    """Cases and promoters' notices spread evenly over the three department channels (the bot
    paces its posts per channel in real time). An update re-sends the same id with a new comment
    that keeps the case where it is, so it owes a thread reply."""
    extra, first, later = KINDS[number % len(KINDS)]
    return payload(id=f"crash-{number}", comment=later if update else first, **extra)


def rush(
    bot: BotProcess, bodies: list[dict[str, Any]], kill_after: int
) -> list[tuple[dict, int | None, Any]]:
    """POST `bodies` from several threads; the thread that sees the `kill_after`-th 2xx kills the bot."""
    answered = 0
    lock = threading.Lock()

    def send(body: dict[str, Any]) -> tuple[dict, int | None, Any]:
        nonlocal answered
        status, answer = bot.post_feedback(body)
        if status is not None and 200 <= status < 300:
            with lock:
                answered += 1
                if answered == kill_after:
                    bot.kill()
        return body, status, answer

    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(send, bodies))


def check_acknowledged_are_stored(database: Database, results: list[tuple[dict, int | None, Any]]) -> None:
    stored = external_ids(database)
    acknowledged = [(body, answer) for body, status, answer in results if status is not None and status < 300]
    lost = [body["id"] for body, _ in acknowledged if body["id"] not in stored]
    assert lost == [], f"answered 202 but not in the database: {lost}"
    case_ids = {case.id for case in case_rows(database)}
    for body, answer in acknowledged:
        assert answer["case_id"] is None or answer["case_id"] in case_ids, (body["id"], answer)


# A third scenario, "slow posts" on SQLite (the stalled posts without the lost answers), ran the
# same rush, kill and restart and checked the same things, all of which "lost answers" does too.
SCENARIOS = [
    pytest.param("sqlite", "lost answers", id="sqlite-lost-answers"),
    pytest.param("postgresql", "lost answers", id="postgresql-lost-answers"),
]


@pytest.fixture
def scenario_url(request: pytest.FixtureRequest, backend: str) -> str:
    url = str(request.getfixturevalue(f"{backend}_url"))
    empty_tables(url)
    return url


@pytest.mark.parametrize(("backend", "slack_trouble"), SCENARIOS)
def test_kill_9_mid_rush_loses_nothing_acknowledged_and_restart_posts_everything_once(
    scenario_url, tmp_path, slack_trouble
):
    """Posts stall a little, so the kill most likely lands while one is on its way and Slack
    applies it after the process is gone. `lost answers`: besides, Slack posts the first three
    case messages and answers 500, so the bot cannot know they are there."""
    simulator = SlackSimulator(
        bot_token="xoxb-crash", signing_secret="crash-secret", post_rate_per_channel=None
    )
    database = Database(scenario_url)
    with simulator:
        seed_workspace(simulator, load_policy(EXAMPLE_POLICY))
        first = BotProcess(simulator, scenario_url, tmp_path, name="first").start()
        second = BotProcess(
            simulator, scenario_url, tmp_path, name="restarted", clock_ahead_seconds=RESTART_AHEAD
        )
        try:
            early: list[tuple[dict, int | None, Any]] = []
            if slack_trouble == "lost answers":
                simulator.inject_fault("chat.postMessage", status=500, applied=True, times=3)
                for number in (1000, 1001, 1002):
                    body = payload(id=f"crash-{number}", comment="Export fails.")
                    early.append((body, *first.post_feedback(body)))
                assert wait_until(lambda: len(simulator.calls_to("chat.postMessage")) >= 3), first.output()
            simulator.inject_fault("chat.postMessage", delay_seconds=0.2, times=6)
            bodies = [response(n) for n in range(24)]
            bodies += [response(n, update=True) for n in range(0, 24, 4)]
            results = early + rush(first, bodies, kill_after=len(bodies) // 2)

            statuses = Counter(status for _, status, _ in results)
            assert first.process is not None and first.process.returncode == -9, (statuses, first.output())
            failed = [body["id"] for body, status, _ in results if status is None]
            assert failed, f"the kill came after the rush: nothing was cut off ({statuses})"
            check_acknowledged_are_stored(database, results)

            if slack_trouble == "lost answers":
                in_slack = case_messages(bot_messages(simulator, CHANNELS))
                uncertain = [
                    c.id
                    for c in case_rows(database)
                    if c.slack_ts is None and c.post_attempts and c.id in in_slack
                ]
                assert uncertain, (
                    "no case was left posted-but-unrecorded: the uncertain send was not exercised"
                )

            second.start()
            caught_up = wait_until(lambda: owed(database) == [], timeout=60, interval=0.1)
            assert caught_up, f"still owed after the restart: {owed(database)}\n{second.output()}"
            assert exactly_once_problems(database, simulator, CHANNELS) == []
            assert delivery_rows(database), "the rush made no thread replies or notices to check"
            assert "Traceback" not in second.output(), second.output()
            assert simulator.violations == []
        finally:
            first.kill()
            second.stop()
            database.dispose()


@pytest.mark.backends("postgresql")
def test_a_case_killed_mid_send_goes_out_seconds_after_the_restart_not_minutes(database_url, tmp_path):
    """The bot is SIGKILLed while a post hangs in Slack (which then fails it): the case's lease
    stays in the row. A restarted process (its clock not moved) posts the case once the short
    lease runs out: within seconds, where a two-minute lease made it wait 131-133 s."""
    simulator = SlackSimulator(bot_token="xoxb-crash", signing_secret="crash-secret")
    database = Database(database_url)
    with simulator:
        seed_workspace(simulator, load_policy(EXAMPLE_POLICY))
        first = BotProcess(simulator, database_url, tmp_path, name="first").start()
        second = BotProcess(simulator, database_url, tmp_path, name="restarted")
        try:
            simulator.inject_fault("chat.postMessage", status=500, delay_seconds=20, times=1)
            status, answer = first.post_feedback(payload(id="mid-send", comment="Export fails."))
            assert status == 202, answer
            case_id = answer["case_id"]
            sending = lambda: [c.post_attempts for c in case_rows(database) if c.id == case_id] == [1]  # noqa: E731
            assert wait_until(sending, timeout=10), first.output()
            first.kill()
            killed_at = time.monotonic()
            second.start()
            posted = lambda: bool(case_messages(bot_messages(simulator, CHANNELS)).get(case_id))  # noqa: E731
            assert wait_until(posted, timeout=LEASE_AFTER_KILL), second.output()
            print(f"posted {time.monotonic() - killed_at:.1f} s after the kill")
            assert time.monotonic() - killed_at < LEASE_AFTER_KILL
            assert wait_until(lambda: owed(database) == [], timeout=10)  # recorded after Slack's answer
            assert exactly_once_problems(database, simulator, CHANNELS) == []
        finally:
            first.kill()
            second.stop()
            database.dispose()
