"""Two bot processes, each with its own scheduler, ask what weekly digest is due at the same
moment against one PostgreSQL database: each digest of the week is sent exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
import yaml
from sqlalchemy import select

from bot.devkit.local_stack import seed_workspace
from bot.devkit.simulator import SlackSimulator
from bot.policy_file import parse_policy
from storage.db import Database
from storage.models import DigestRow
from tests.support.databases import empty_tables
from tests.support.digest_process import run_digests
from tests.support.replicas import run_replicas

NOW = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)  # W48 is due (Mon 09:00 Berlin = 08:00 UTC)


@pytest.mark.process
def test_two_processes_send_each_weeks_digests_once(postgresql_url, raw_policy, tmp_path):
    empty_tables(postgresql_url)
    raw_policy["digest"] = {"timezone": "Europe/Berlin", "channel": "C0WINS", "per_department": True}
    policy_path = tmp_path / "policy.yml"
    policy_path.write_text(yaml.safe_dump(raw_policy))
    policy = parse_policy(raw_policy, "policy.yml")
    with SlackSimulator(bot_token="xoxb-digest", post_rate_per_channel=None) as simulator:
        seed_workspace(simulator, policy)
        outcome = run_replicas(
            run_digests, postgresql_url, str(policy_path), simulator.api_url, NOW.isoformat()
        )
        leads = [
            m
            for channel in simulator.workspace.channels
            for m in simulator.messages(channel)
            if (m.metadata or {}).get("event_type") == "closeloop_digest"
        ]
        uploads = simulator.files()
    assert all(r["finished"] for r in outcome.values()), outcome
    sent = Counter(s for r in outcome.values() for s in r["statuses"] if s.endswith(":sent"))
    expected = {f"{key}:2026-W48:sent" for key in ("all", "department:support", "department:billing")}
    expected.add("department:product:2026-W48:sent")
    assert sent == Counter(expected)  # each digest once, by one process or the other
    assert sorted(m.channel for m in leads) == ["C0BILLING", "C0PRODUCT", "C0SUPPORT", "C0WINS"]
    assert len(uploads) == 4
    database = Database(postgresql_url)
    with database.transaction() as session:
        rows = session.scalars(select(DigestRow)).all()
        assert sorted((r.digest, r.status, r.attempts) for r in rows) == [
            ("all", "sent", 1),
            ("department:billing", "sent", 1),
            ("department:product", "sent", 1),
            ("department:support", "sent", 1),
        ]
    database.dispose()
