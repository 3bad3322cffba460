"""Deadline rows: kept in step with each case change, swept when due, acknowledged and snoozed.

The sweep is set-based, so its cost follows the due rows, not the open cases, and a batch of a
thousand cases costs the statements of one: a SELECT that locks the cases of the oldest due rows
(`FOR UPDATE OF cases SKIP LOCKED`), one that loads those cases with their responses, one that
locks their due rows; then, after the domain decided each case in Python, one UPDATE per new
status, one INSERT of the events (with their ids), one INSERT of the deliveries they owe
(storage.history.record_events) and one UPDATE of the versions of the cases whose message now
shows them overdue. A sweep runs such batches until nothing is due (bot.app.deadline_sweep).

Exactly once across processes: a case's due rows are only read and changed by whoever holds the
case row (PostgreSQL; SQLite serialises writers), and are read again once it is held, so another
process either skips the locked case or, once it commits, finds nothing due. Nothing here talks
to Slack: the outbox worker sends them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, and_, bindparam, not_, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session, defer

from bot.domain.lifecycle import Action, Code, Refusal, Role, decide
from bot.domain.records import CaseSnapshot, DeadlineRecord, DeadlineSpec, DueDates, Firing, SweepDecision
from bot.domain.vocabulary import (
    OPEN_STATUSES,
    DeadlineKind,
    DeadlineStatus,
    DeliveryKind,
    EventKind,
)
from storage.case_webhooks import CaseEventMirror, MirroredEvent
from storage.db import Database
from storage.history import SYSTEM_ACTOR, OwedEvent, record_event, record_events
from storage.models import Case, Deadline, Feedback
from storage.snapshots import count_and_oldest


class DeadlinePlanner(Protocol):
    """The domain's answers storage needs when a case changes (see bot.domain.deadlines)."""

    def due_dates(self, case: CaseSnapshot) -> DueDates: ...

    def close_due_from(self, case: CaseSnapshot, start: datetime) -> datetime | None: ...

    def plan(self, case: CaseSnapshot) -> list[DeadlineSpec]: ...

    def working_time(self, case: CaseSnapshot, start: datetime, end: datetime) -> timedelta: ...


class NoDeadlines:
    """A planner for a policy without deadlines (and for storage tests that do not need them)."""

    def due_dates(self, case: CaseSnapshot) -> DueDates:
        return DueDates()

    def close_due_from(self, case: CaseSnapshot, start: datetime) -> datetime | None:
        return None

    def plan(self, case: CaseSnapshot) -> list[DeadlineSpec]:
        return []

    def working_time(self, case: CaseSnapshot, start: datetime, end: datetime) -> timedelta:
        return max(end - start, timedelta(0))


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


# Due rows per sweep transaction: enough for a thousand cases at once, few enough that no batch
# holds its locks for long (a sweep runs batches until nothing is due).
BATCH_ROWS = 2000

# What the sweep asks the domain for each case; None leaves the case's rows due (the caller could
# not decide it, and says why).
CaseDecider = Callable[[CaseSnapshot, list[DeadlineRecord]], SweepDecision | None]

_RECORD_COLUMNS = (
    Deadline.id,
    Deadline.case_id,
    Deadline.kind,
    Deadline.step,
    Deadline.level,
    Deadline.recipient,
    Deadline.due_at,
    Deadline.status,
    Deadline.held,
    Deadline.acknowledged_by,
)


@dataclass(frozen=True)
class SweptBatch:
    """One committed sweep transaction: how many due rows it took, each decided case's decision,
    how many rows it changed, and whether it took as many as it could (more may be due)."""

    due_rows: int
    decisions: tuple[tuple[int, SweepDecision], ...]
    full: bool
    changed: int = 0


def _owed_event(case_id: int, feedback_id: int, firing: Firing) -> OwedEvent:
    kind = DeliveryKind(firing.dm_kind or DeliveryKind.ESCALATION_DM)
    return OwedEvent(
        case_id,
        feedback_id,
        SYSTEM_ACTOR,
        firing.event_kind,
        firing.details,
        reply=firing.reply,
        direct=tuple((kind, recipient) for recipient in firing.recipients),
    )


def _set_status(session: Session, ids: Sequence[int], status: str, **values: object) -> int:
    if not ids:
        return 0
    result = session.execute(
        update(Deadline)
        .where(_among(Deadline.id, ids), Deadline.status == DeadlineStatus.PENDING)
        .values(status=status, **values)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))


def _carry_out(
    session: Session,
    decisions: Sequence[tuple[int, SweepDecision]],
    feedback_of: dict[int, int],
    now: datetime,
    mirror: CaseEventMirror | None = None,
) -> int:
    """Apply a batch's decisions with one statement per kind of change; how many rows changed."""
    fired = [(case_id, firing) for case_id, decision in decisions for firing in decision.fire]
    changed = _set_status(session, [f.deadline_id for _, f in fired], DeadlineStatus.SENT, sent_at=now)
    changed += _set_status(session, [i for _, d in decisions for i in d.supersede], DeadlineStatus.SUPERSEDED)
    changed += _set_status(session, [i for _, d in decisions for i in d.cancel], DeadlineStatus.CANCELLED)
    owed = [_owed_event(c, feedback_of[c], f) for c, f in fired]
    event_ids = record_events(session, owed, now)
    refresh = sorted({case_id for case_id, firing in fired if firing.refresh_message})
    if refresh:  # the message now shows the case overdue
        session.execute(
            update(Case)
            .where(_among(Case.id, refresh))
            .values(version=Case.version + 1)
            .execution_options(synchronize_session=False)
        )
    if mirror is not None:  # the batch's cases are locked: their events' order is theirs;
        # after the version bump, so each event's body shows the case as it now is
        mirrored = [
            MirroredEvent(i, e.case_id, e.kind, e.actor, e.details, now)
            for e, i in zip(owed, event_ids, strict=True)
        ]
        mirror.owe(session.connection(), mirrored, now)
    return changed


def _among(column: InstrumentedAttribute[int], ids: Iterable[int]) -> ColumnElement[bool]:
    """`column IN (ids)` with the ids written into the SQL: thousands of bound parameters cost
    more to bind and parse than the statement costs to run (the ids are integers we read)."""
    values = sorted(set(ids))
    name = f"{column.class_.__tablename__}_{column.key}_ids"
    return column.in_(bindparam(name, values, expanding=True, literal_execute=True))


def _lock_due_cases(session: Session, now: datetime, limit: int) -> list[tuple[int, int]]:
    """(case id, feedback id) of each of the oldest `limit` due rows whose case this transaction
    could lock (`FOR UPDATE OF cases SKIP LOCKED`): locked rows do not count towards the limit."""
    rows = session.execute(
        select(Deadline.case_id, Case.feedback_id)
        .join(Case, Case.id == Deadline.case_id)
        .where(Deadline.status == DeadlineStatus.PENDING, Deadline.due_at <= now)
        .order_by(Deadline.due_at, Deadline.id)
        .limit(limit)
        .with_for_update(of=Case, skip_locked=True)
    )
    return [(case_id, feedback_id) for case_id, feedback_id in rows]


def _lock_due_rows(
    session: Session, case_ids: Sequence[int], now: datetime
) -> dict[int, list[DeadlineRecord]]:
    """The due rows of cases this transaction holds, locked, by case, oldest first. Read afresh
    under the case locks: a row another process swept before we took its case is no longer
    pending here, though the SELECT that took the case may have seen it so."""
    due: dict[int, list[DeadlineRecord]] = defaultdict(list)
    rows = session.execute(
        select(*_RECORD_COLUMNS)
        .where(
            _among(Deadline.case_id, case_ids),
            Deadline.status == DeadlineStatus.PENDING,
            Deadline.due_at <= now,
        )
        .order_by(Deadline.due_at, Deadline.id)
        .with_for_update()
    )
    for row in rows:
        due[row.case_id].append(DeadlineRecord(*row))
    return due


@dataclass(frozen=True)
class EscalationAnswer:
    """The result of acknowledging or snoozing: `refusal` None when done."""

    case: CaseSnapshot | None
    refusal: Refusal | None = None


class DeadlineStore:
    def __init__(
        self,
        database: Database,
        snapshot: Callable[[Case, Feedback], CaseSnapshot],
        mirror: CaseEventMirror | None = None,
    ) -> None:
        self.database = database
        self._snapshot = snapshot
        self.mirror = mirror  # outbound case events of the escalations (storage.case_webhooks)

    # ---- the sweep ----------------------------------------------------------------------------

    def due_case_ids(self, now: datetime, limit: int = 200) -> list[int]:
        """Cases with a row due (oldest first): a cheap read, e.g. to tell whether a sweep is owed."""
        with self.database.transaction() as session:
            rows = session.execute(
                select(Deadline.case_id, Deadline.due_at)
                .where(Deadline.status == DeadlineStatus.PENDING, Deadline.due_at <= now)
                .order_by(Deadline.due_at, Deadline.id)
                .limit(limit)
            )
            return list(dict.fromkeys(case_id for case_id, _ in rows))

    def sweep_batch(self, now: datetime, decide: CaseDecider, limit: int = BATCH_ROWS) -> SweptBatch:
        """Carry out `decide`'s answer for the cases of the oldest `limit` due rows, in one
        transaction of a fixed number of statements (see the module docstring).

        A case is taken whole: all its due rows are decided together, even past `limit`, so 'the
        latest one per audience' holds wherever the batch ends. Cases another process holds are
        skipped, not waited for."""
        with self.database.transaction() as session:
            picked = _lock_due_cases(session, now, limit)
            if not picked:
                return SweptBatch(0, (), full=False)
            feedback_of = dict(picked)
            loaded = session.execute(
                select(Case, Feedback)
                .join(Feedback, Feedback.id == Case.feedback_id)
                # both sides by id, so both are index lookups however many cases there are
                .where(_among(Case.id, feedback_of), _among(Feedback.id, feedback_of.values()))
                .options(defer(Feedback.raw, raiseload=True))  # the whole response: no snapshot reads it
            )
            cases = {case.id: (case, feedback) for case, feedback in loaded}
            due = _lock_due_rows(session, list(feedback_of), now)
            decisions = []
            for case_id, rows in due.items():
                decision = decide(self._snapshot(*cases[case_id]), rows)
                if decision is not None:
                    decisions.append((case_id, decision))
            changed = _carry_out(session, decisions, feedback_of, now, self.mirror)
            due_rows = sum(len(rows) for rows in due.values())
            return SweptBatch(due_rows, tuple(decisions), full=len(picked) == limit, changed=changed)

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
