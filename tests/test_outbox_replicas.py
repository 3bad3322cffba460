"""Two bot processes share one PostgreSQL outbox: everything owed is posted, and nothing twice."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot.app.intake import triage
from bot.devkit.local_stack import seed_workspace
from bot.devkit.simulator import SlackSimulator
from bot.domain.deadlines import SlaPlanner
from bot.policy_file import load_policy
from storage.db import Database
from storage.outbox_store import OutboxStore
from storage.repository import Repository
from tests.factories import feedback_and_triage
from tests.support.databases import empty_tables
from tests.support.outbox_process import run_outbox_worker
from tests.support.replicas import run_replicas

EXAMPLE = Path(__file__).parent.parent / "bot" / "examples" / "policy.yml"
CASES = 40


@pytest.mark.process
def test_two_outbox_workers_post_each_case_and_reply_exactly_once(postgresql_url, clock):
    policy = load_policy(EXAMPLE)
    empty_tables(postgresql_url)
    database = Database(postgresql_url)
    repository = Repository(database, SlaPlanner(policy))
    comments = ["Export broken", "I was double charged", "A feature-request: dark mode"]
    for number in range(CASES):
        data, _ = feedback_and_triage(policy, id=f"r-{number}", comment=comments[number % 3])
        case_id = repository.record_feedback(data, lambda d: triage(policy, d), clock()).case_id
        if number % 2:
            repository.claim(case_id, "U0ALICE", clock())  # owes a thread reply as well
    with SlackSimulator(bot_token="xoxb-replicas", post_rate_per_channel=None) as simulator:
        seed_workspace(simulator, policy)
        outcome = run_replicas(run_outbox_worker, postgresql_url, str(EXAMPLE), simulator.api_url)
        channels = [d.channel for d in policy.departments]
        top = [m for c in channels for m in simulator.messages(c) if not m.thread_ts]
        replies = [m for c in channels for m in simulator.messages(c, include_replies=True) if m.thread_ts]
    assert OutboxStore(database).cases_owed(clock()) == []
    database.dispose()
    posted = Counter(m.metadata["event_payload"]["case_id"] for m in top)
    assert posted == Counter(range(1, CASES + 1)), "every case message exactly once"
    claimed = Counter(m.thread_ts for m in replies if "claimed this case" in m.text)
    assert len(claimed) == CASES // 2 and set(claimed.values()) == {1}, "every reply exactly once"
    assert sum(r["delivered"] for r in outcome.values()) >= CASES
