"""Keeping a case's due dates and deadline rows in line with it, inside the caller's transaction.

Two shapes of the same contract: `replan` for a case that already has rows (it reads and
reconciles them through `sync_deadlines`), and `first_deadline_rows` for a case being inserted,
which has none, so what `sync_deadlines` would do is known without reading anything: insert the
plan's rows, pending.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.domain.records import DeadlineSpec
from bot.domain.vocabulary import DeadlineStatus
from storage.deadline_store import DeadlinePlanner, sync_deadlines
from storage.models import Case, Feedback
from storage.snapshots import snapshot
from storage.stats import stamp_step_times


def replan(
    session: Session, planner: DeadlinePlanner, case: Case, feedback: Feedback, now: datetime, *, due: bool
) -> None:
    """Bring the case's deadline rows in line with its new state; with `due`, first recompute when
    each step is due (re-triage)."""
    stamp_step_times(case, snapshot(case, feedback), planner, now)
    session.flush()
    if due:
        dates = planner.due_dates(snapshot(case, feedback))
        case.claim_due_at, case.contact_due_at, case.close_due_at = (
            dates.claim,
            dates.first_contact,
            dates.close,
        )
        session.flush()
    sync_deadlines(session, case.id, planner.plan(snapshot(case, feedback)), now)


def first_deadline_rows(case_id: int, specs: Sequence[DeadlineSpec], now: datetime) -> list[dict[str, Any]]:
    """The rows `sync_deadlines` would add for a case with none yet: one pending row per planned
    key (a later spec of the same key wins, as there)."""
    planned = {spec.key: spec for spec in specs}
    return [
        {
            "case_id": case_id,
            "kind": spec.kind,
            "step": spec.step,
            "level": spec.level,
            "recipient": spec.recipient,
            "due_at": spec.due_at,
            "status": DeadlineStatus.PENDING,
            "held": False,
            "created_at": now,
            "sent_at": None,
            "acknowledged_by": None,
        }
        for spec in planned.values()
    ]
