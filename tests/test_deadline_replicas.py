"""Two bot processes, each with its own APScheduler, sweep one PostgreSQL database at the same
time: every reminder and escalation is sent exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.domain.deadlines import SlaPlanner
from storage.db import Database
from storage.models import CaseEvent, Delivery
from storage.repository import Repository
from tests.factories import feedback_and_triage
from tests.support.databases import empty_tables
from tests.support.replicas import run_replicas
from tests.support.sweeper_process import run_sweeper

EXAMPLE = Path(__file__).parent.parent / "bot" / "examples" / "policy.yml"
CASES = 60


@pytest.mark.process
def test_two_schedulers_send_each_reminder_once(postgresql_url, policy, clock):
    empty_tables(postgresql_url)
    database = Database(postgresql_url)
    repository = Repository(database, SlaPlanner(policy))
    for number in range(CASES):
        customer = {"name": f"Customer {number}", "segment": "smb"}
        repository.record_feedback(*feedback_and_triage(policy, id=f"r-{number}", customer=customer), clock())
    # Claimed cases also owe owner reminders; half of them are claimed.
    for case_id in range(1, CASES + 1, 2):
        assert repository.claim(case_id, "U0ALICE", clock()).applied
    later = clock() + timedelta(hours=7)  # past claim (2 h) and its second level (+4 h); not close
    outcome = run_replicas(run_sweeper, postgresql_url, str(EXAMPLE), later.isoformat())
    assert all(r["finished"] for r in outcome.values()), outcome
    with database.transaction() as session:
        events = Counter(
            (e.case_id, e.kind, e.details.get("level"), e.details.get("step"))
            for e in session.scalars(select(CaseEvent).where(CaseEvent.actor == "closeloop"))
        )
        dms = Counter((d.case_id, d.recipient) for d in session.scalars(select(Delivery)) if d.recipient)
    database.dispose()
    unclaimed = range(2, CASES + 1, 2)
    expected = Counter()
    for case_id in unclaimed:
        expected[(case_id, "claim_nudge", None, "claim")] = 1
        expected[(case_id, "escalated", 1, "claim")] = 1
        expected[(case_id, "escalated", 2, "claim")] = 1
    assert events == expected, "each due reminder fired exactly once across both processes"
    assert dms == Counter({(c, r): 1 for c in unclaimed for r in ("U0MAYA", "U0CAROL")})
    assert sum(r["fired"] for r in outcome.values()) == 3 * len(unclaimed)


def test_a_sweep_and_a_resent_response_on_the_same_case_do_not_deadlock(postgresql_url, policy, clock):
    """Intake holds the response's row while it decides; the sweep holds the case row and writes
    deliveries that point at the response. Forced into that interleaving, both must finish."""
    import threading

    from bot.app.intake import triage
    from bot.domain.deadlines import decide
    from storage.deadline_store import DeadlineStore
    from storage.snapshots import snapshot

    empty_tables(postgresql_url)
    database = Database(postgresql_url)
    repository = Repository(database, SlaPlanner(policy))
    store = DeadlineStore(database, snapshot)
    customer = {"name": "Dana", "segment": "smb"}
    case_id = repository.record_feedback(*feedback_and_triage(policy, customer=customer), clock()).case_id
    later = clock() + timedelta(hours=2)
    response_locked, case_locked = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}
    calls = 0

    def slow_triage(data):
        nonlocal calls
        calls += 1
        if calls == 2:  # the response's row is locked by now
            response_locked.set()
            case_locked.wait(5)
        return triage(policy, data)

    def resend() -> None:
        data, _ = feedback_and_triage(policy, customer=customer, comment="Also slow.")
        try:
            outcome["intake"] = repository.record_feedback(data, slow_triage, later).changed
        except Exception as error:  # the assertion below shows what went wrong
            outcome["intake"] = error

    def sweep() -> None:
        def decide_when_both_hold(case, rows):
            response_locked.wait(5)
            case_locked.set()
            return decide(policy, case, rows, later)

        try:
            outcome["sweep"] = [c for c, _ in store.sweep_batch(later, decide_when_both_hold).decisions] == [
                case_id
            ]
        except Exception as error:
            outcome["sweep"] = error

    threads = [threading.Thread(target=sweep), threading.Thread(target=resend)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    database.dispose()
    assert outcome == {"intake": True, "sweep": True}
