"""Deadline rows: kept in step with each case change, swept when due, acknowledged and snoozed.

Exactly once across processes: a sweep works case by case, taking the case row with
`FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite serialises writers) and, in the same transaction,
marking the due rows sent and writing what they cause (history, thread reply, direct messages)
into the outbox. Another process either skips the locked case or, once it commits, finds nothing
due. Nothing here talks to Slack: the publisher sends the outbox.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import ColumnElement, and_, not_, or_, select
from sqlalchemy.orm import Session

from bot.domain.lifecycle import Action, Code, Refusal, Role, decide
from bot.domain.records import CaseSnapshot, DeadlineRecord, DeadlineSpec, DueDates, SweepDecision
from bot.domain.vocabulary import (
    OPEN_STATUSES,
    DeadlineKind,
    DeadlineStatus,
    DeliveryKind,
    EventKind,
)
from storage.db import Database
from storage.history import SYSTEM_ACTOR, new_delivery, record_event
from storage.models import Case, Deadline, Feedback
from storage.snapshots import count_and_oldest


class DeadlinePlanner(Protocol):
    """The domain's answers storage needs when a case changes (see bot.domain.deadlines)."""

    def due_dates(self, case: CaseSnapshot) -> DueDates: ...

    def close_due_from(self, case: CaseSnapshot, start: datetime) -> datetime | None: ...

    def plan(self, case: CaseSnapshot) -> list[DeadlineSpec]: ...


class NoDeadlines:
    """A planner for a policy without deadlines (and for storage tests that do not need them)."""

    def due_dates(self, case: CaseSnapshot) -> DueDates:
        return DueDates()

    def close_due_from(self, case: CaseSnapshot, start: datetime) -> datetime | None:
        return None

    def plan(self, case: CaseSnapshot) -> list[DeadlineSpec]:
        return []


def record_of(row: Deadline) -> DeadlineRecord:
    return DeadlineRecord(
        row.id,
        row.case_id,
        row.kind,
        row.step,
        row.level,
        row.recipient,
        row.due_at,
        row.status,
        row.held,
        row.acknowledged_by,
    )


def _key(row: Deadline) -> tuple[str, str, int, str | None]:
    return (row.kind, row.step, row.level, row.recipient)


DONE = (DeadlineStatus.SENT, DeadlineStatus.ACKNOWLEDGED, DeadlineStatus.SUPERSEDED)


def _pending(case_id: int, spec: DeadlineSpec, now: datetime, *, held: bool) -> Deadline:
    return Deadline(
        case_id=case_id,
        kind=spec.kind,
        step=spec.step,
        level=spec.level,
        recipient=spec.recipient,
        due_at=spec.due_at,
        status=DeadlineStatus.PENDING,
        held=held,
        created_at=now,
    )


def sync_deadlines(session: Session, case_id: int, specs: Sequence[DeadlineSpec], now: datetime) -> None:
    """Make the case's pending rows match `specs`, inside the caller's transaction.

    A spec already sent (or acknowledged, or superseded) is never added again, so releasing and
    re-claiming a case does not repeat a nudge; a pending row the plan no longer wants is
    cancelled; a snoozed (`held`) row keeps its later time."""
    rows = list(session.scalars(select(Deadline).where(Deadline.case_id == case_id).with_for_update()))
    by_key: dict[tuple[str, str, int, str | None], list[Deadline]] = defaultdict(list)
    for row in rows:
        by_key[_key(row)].append(row)
    # An acknowledged step stays answered: its chain is not started again by a later change.
    answered = {row.step for row in rows if row.kind == DeadlineKind.ESCALATION and row.acknowledged_by}
    planned = {spec.key: spec for spec in specs}
    for key, spec in planned.items():
        existing = by_key.get(key, [])
        pending = [row for row in existing if row.status == DeadlineStatus.PENDING]
        for row in pending:
            # A snoozed row keeps its later time, but never fires before the step is due.
            due = max(spec.due_at, row.due_at) if row.held else spec.due_at
            if row.due_at != due:
                row.due_at = due
        if pending or any(row.status in DONE for row in existing):
            continue
        if spec.kind == DeadlineKind.ESCALATION and spec.step in answered:
            continue
        session.add(_pending(case_id, spec, now, held=False))
    for row in rows:
        if row.status == DeadlineStatus.PENDING and _key(row) not in planned:
            row.status = DeadlineStatus.CANCELLED


def _escalation_chain(session: Session, case_id: int, step: str, *, unanswered: bool) -> list[Deadline]:
    """The escalation rows of one step that are still live (pending, or sent), locked."""
    query = select(Deadline).where(
        Deadline.case_id == case_id,
        Deadline.kind == DeadlineKind.ESCALATION,
        Deadline.step == step,
        Deadline.status.in_((DeadlineStatus.PENDING, DeadlineStatus.SENT)),
    )
    if unanswered:
        query = query.where(Deadline.acknowledged_by.is_(None))
    return list(session.scalars(query.with_for_update()))


def retire_chains(session: Session, case_id: int, *, steps: Sequence[str] | None) -> None:
    """Let reminders and escalations of `steps` (all, when None) be planned afresh: used when the
    case moves to another department (whose people have not been told) or a loop is reopened."""
    query = select(Deadline).where(Deadline.case_id == case_id, Deadline.status != DeadlineStatus.PENDING)
    if steps is not None:
        query = query.where(Deadline.step.in_(steps))
    for row in session.scalars(query.with_for_update()):
        if row.status in DONE or row.acknowledged_by:
            row.status = DeadlineStatus.RETIRED
            row.acknowledged_by = None


def acknowledge_chain(session: Session, case_id: int, step: str, user: str) -> bool:
    """Stop the escalation chain of one step: True if this call did it (False: already done)."""
    rows = _escalation_chain(session, case_id, step, unanswered=True)
    for row in rows:
        row.acknowledged_by = user
        if row.status == DeadlineStatus.PENDING:
            row.status = DeadlineStatus.ACKNOWLEDGED
    return bool(rows)


@dataclass(frozen=True)
class EscalationAnswer:
    """The result of acknowledging or snoozing: `refusal` None when done."""

    case: CaseSnapshot | None
    refusal: Refusal | None = None


class DeadlineStore:
    def __init__(self, database: Database, snapshot: Callable[[Case, Feedback], CaseSnapshot]) -> None:
        self.database = database
        self._snapshot = snapshot

    # ---- the sweep ----------------------------------------------------------------------------

    def due_case_ids(self, now: datetime, limit: int = 200) -> list[int]:
        with self.database.transaction() as session:
            rows = session.execute(
                select(Deadline.case_id, Deadline.due_at)
                .where(Deadline.status == DeadlineStatus.PENDING, Deadline.due_at <= now)
                .order_by(Deadline.due_at, Deadline.id)
                .limit(limit)
            )
            return list(dict.fromkeys(case_id for case_id, _ in rows))

    def sweep_case(
        self,
        case_id: int,
        now: datetime,
        decide: Callable[[CaseSnapshot, list[DeadlineRecord]], SweepDecision],
    ) -> SweepDecision | None:
        """Carry out `decide`'s answer for the case's due rows; None if another process holds the
        case or nothing is due any more."""
        with self.database.transaction() as session:
            case = session.scalar(select(Case).where(Case.id == case_id).with_for_update(skip_locked=True))
            if case is None:
                return None
            rows = list(
                session.scalars(
                    select(Deadline)
                    .where(
                        Deadline.case_id == case_id,
                        Deadline.status == DeadlineStatus.PENDING,
                        Deadline.due_at <= now,
                    )
                    .order_by(Deadline.due_at, Deadline.id)
                    .with_for_update()
                )
            )
            if not rows:
                return None
            feedback = session.get_one(Feedback, case.feedback_id)
            decision = decide(self._snapshot(case, feedback), [record_of(row) for row in rows])
            by_id = {row.id: row for row in rows}
            for row_id in decision.cancel:
                by_id[row_id].status = DeadlineStatus.CANCELLED
            for row_id in decision.supersede:
                by_id[row_id].status = DeadlineStatus.SUPERSEDED
            for firing in decision.fire:
                row = by_id[firing.deadline_id]
                row.status = DeadlineStatus.SENT
                row.sent_at = now
                event = record_event(
                    session, case, SYSTEM_ACTOR, firing.event_kind, firing.details, now, reply=firing.reply
                )
                for recipient in firing.recipients:
                    kind = DeliveryKind(firing.dm_kind or DeliveryKind.ESCALATION_DM)
                    session.add(
                        new_delivery(kind, case.feedback_id, case.id, event.id, now, recipient=recipient)
                    )
                if firing.refresh_message:
                    case.version += 1  # the message now shows the case overdue
            return decision

    # ---- answers to an escalation -------------------------------------------------------------

    def _lock_answerable_case(
        self, session: Session, case_id: int, action: Action
    ) -> tuple[Case, Feedback] | Refusal:
        """The case, locked, if the lifecycle table lets a responder (the caller checked the person
        is one) give this answer in its status; otherwise why not."""
        case = session.scalar(select(Case).where(Case.id == case_id).with_for_update())
        if case is None:
            return Refusal(Code.NOT_FOUND, action)
        code = decide(action, case.status, frozenset({Role.RESPONDER}))
        if code is not None:
            return Refusal(code, action, owner=case.owner_id)
        return case, session.get_one(Feedback, case.feedback_id)

    def _acknowledged_by(self, session: Session, case_id: int, step: str) -> str | None:
        return session.scalar(
            select(Deadline.acknowledged_by).where(
                Deadline.case_id == case_id,
                Deadline.kind == DeadlineKind.ESCALATION,
                Deadline.step == step,
                Deadline.acknowledged_by.is_not(None),
            )
        )

    def acknowledge(self, case_id: int, step: str, user: str, now: datetime) -> EscalationAnswer:
        with self.database.transaction() as session:
            locked = self._lock_answerable_case(session, case_id, Action.ACKNOWLEDGE)
            if isinstance(locked, Refusal):
                return EscalationAnswer(None, locked)
            case, feedback = locked
            if not acknowledge_chain(session, case_id, step, user):
                who = self._acknowledged_by(session, case_id, step)
                refusal = (
                    Refusal(Code.ALREADY_ACKNOWLEDGED, Action.ACKNOWLEDGE, owner=case.owner_id, person=who)
                    if who
                    else Refusal(Code.NOTHING_TO_ACKNOWLEDGE, Action.ACKNOWLEDGE, owner=case.owner_id)
                )
                return EscalationAnswer(self._snapshot(case, feedback), refusal)
            record_event(session, case, user, EventKind.ACKNOWLEDGED, {"step": step}, now, reply=True)
            return EscalationAnswer(self._snapshot(case, feedback))

    def snooze(
        self, case_id: int, step: str, level: int, user: str, until: datetime, now: datetime
    ) -> EscalationAnswer:
        """Nothing more about this step until `until`; then the snoozer's level is pinged again
        (and a later level, if one was due before then, hears of it at that time)."""
        with self.database.transaction() as session:
            locked = self._lock_answerable_case(session, case_id, Action.SNOOZE)
            if isinstance(locked, Refusal):
                return EscalationAnswer(None, locked)
            case, feedback = locked
            who = self._acknowledged_by(session, case_id, step)
            if who:
                refusal = Refusal(Code.ALREADY_ACKNOWLEDGED, Action.SNOOZE, owner=case.owner_id, person=who)
                return EscalationAnswer(self._snapshot(case, feedback), refusal)
            chain = _escalation_chain(session, case_id, step, unanswered=False)
            if not chain:
                refusal = Refusal(Code.NOTHING_TO_SNOOZE, Action.SNOOZE, owner=case.owner_id)
                return EscalationAnswer(self._snapshot(case, feedback), refusal)
            pending = [row for row in chain if row.status == DeadlineStatus.PENDING]
            for row in pending:
                row.due_at = max(row.due_at, until)
                row.held = True
            if not any(row.level == level for row in pending):
                session.add(
                    _pending(
                        case_id,
                        DeadlineSpec(DeadlineKind.ESCALATION, step, level, None, until),
                        now,
                        held=True,
                    )
                )
            details = {"step": step, "until": until.isoformat()}
            record_event(session, case, user, EventKind.SNOOZED, details, now, reply=True)
            return EscalationAnswer(self._snapshot(case, feedback))

    # ---- reads --------------------------------------------------------------------------------

    def pending(self, case_id: int) -> list[DeadlineRecord]:
        with self.database.transaction() as session:
            rows = session.scalars(
                select(Deadline)
                .where(Deadline.case_id == case_id, Deadline.status == DeadlineStatus.PENDING)
                .order_by(Deadline.due_at, Deadline.id)
            )
            return [record_of(row) for row in rows]

    def all_rows(self, case_id: int) -> list[DeadlineRecord]:
        with self.database.transaction() as session:
            rows = session.scalars(select(Deadline).where(Deadline.case_id == case_id).order_by(Deadline.id))
            return [record_of(row) for row in rows]

    def open_cases_due_between(
        self,
        start: datetime | None,
        end: datetime,
        *,
        department: str | None = None,
        limit: int = 50,
    ) -> tuple[int, list[CaseSnapshot]]:
        """Open cases with a step not done and due before `end` but none before `start` (None:
        any time), oldest first, and how many there are in all. `(None, now)` is the overdue
        list; `(now, now + window)` the at-risk one."""
        conditions = [Case.status.in_(OPEN_STATUSES), _step_due_before(end)]
        if start is not None:
            conditions.append(not_(_step_due_before(start)))
        if department is not None:
            conditions.append(Case.department == department)
        with self.database.transaction() as session:
            return count_and_oldest(session, conditions, limit)


def _step_due_before(moment: datetime) -> ColumnElement[bool]:
    """Some step of the case not yet done is due before `moment` (never NULL, so NOT is safe)."""
    return or_(
        and_(Case.owner_id.is_(None), Case.claim_due_at.is_not(None), Case.claim_due_at < moment),
        and_(Case.contacted_at.is_(None), Case.contact_due_at.is_not(None), Case.contact_due_at < moment),
        and_(Case.close_due_at.is_not(None), Case.close_due_at < moment),
    )
