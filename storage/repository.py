"""Feedback intake and case state changes, each one short transaction.

State changes are single guarded UPDATE statements checked by rowcount (never read-then-write),
so two people clicking Claim at once cannot both win, on SQLite or PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy import case as sa_case
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.domain import lifecycle
from bot.domain.lifecycle import Action, OwnerCondition, Refusal
from bot.domain.records import (
    FEEDBACK_FIELDS,
    CaseSnapshot,
    ChangeResult,
    CloseDetails,
    EventRecord,
    FeedbackData,
    IntakeOutcome,
    Triage,
)
from bot.domain.vocabulary import OPEN_STATUSES, CaseStatus, DeliveryKind, EventKind, Step
from storage.db import Database
from storage.deadline_store import (
    DeadlinePlanner,
    NoDeadlines,
    acknowledge_chain,
    retire_chains,
    sync_deadlines,
)
from storage.history import new_delivery, record_event
from storage.models import Case, CaseEvent, Delivery, Feedback
from storage.snapshots import count_and_oldest, snapshot


class CaseNotFound(LookupError):
    pass


def merge_raw(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Later sends add to what earlier ones said (a partial update must not erase the rest)."""
    merged = dict(old)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_raw(merged[key], value)
        else:
            merged[key] = value
    return merged


def stored_data(feedback: Feedback) -> FeedbackData:
    """The response as it stands after all updates, for deciding its category and department."""
    values = {name: getattr(feedback, name) for name in FEEDBACK_FIELDS}
    values["tags"] = tuple(values["tags"] or ())
    return FeedbackData(external_id=feedback.external_id, survey=feedback.survey, raw=feedback.raw, **values)


def _feedback_values(data: FeedbackData) -> dict[str, Any]:
    values = {name: getattr(data, name) for name in FEEDBACK_FIELDS}
    values["tags"] = list(data.tags)
    return values


class Repository:
    def __init__(self, database: Database, planner: DeadlinePlanner | None = None) -> None:
        self.database = database
        self.planner: DeadlinePlanner = planner or NoDeadlines()

    def _replan(self, session: Session, case: Case, feedback: Feedback, now: datetime, *, due: bool) -> None:
        """Bring the case's deadline rows in line with its new state, in the same transaction as
        the change; with `due`, first recompute when each step is due (new case, re-triage)."""
        session.flush()
        if due:
            dates = self.planner.due_dates(snapshot(case, feedback))
            case.claim_due_at, case.contact_due_at, case.close_due_at = (
                dates.claim,
                dates.first_contact,
                dates.close,
            )
            session.flush()
        sync_deadlines(session, case.id, self.planner.plan(snapshot(case, feedback)), now)

    # ---- intake -------------------------------------------------------------------------------

    def record_feedback(
        self, data: FeedbackData, decide: Callable[[FeedbackData], Triage], now: datetime
    ) -> IntakeOutcome:
        """Upsert a response and open or refresh its case, in one transaction.

        Re-sent responses update the same rows; only fields the sender included are changed.
        `decide` (the domain's triage) sees the response as merged, so an update that omits the
        comment is still routed by the comment sent before.
        """
        with self.database.transaction() as session:
            feedback, created = self._lock_or_insert_feedback(session, data, decide(data), now)
            changed_fields: list[str] = []
            raw_changed = False
            if not created:
                for name, value in _feedback_values(data).items():
                    if name in data.provided and getattr(feedback, name) != value:
                        setattr(feedback, name, value)
                        changed_fields.append(name)
                merged = merge_raw(feedback.raw, data.raw)
                raw_changed = merged != feedback.raw
                if changed_fields or raw_changed:
                    feedback.revision += 1
                    feedback.updated_at = now
                    feedback.raw = merged
            triage = decide(stored_data(feedback))
            feedback.category = triage.category
            case = session.scalar(select(Case).where(Case.feedback_id == feedback.id).with_for_update())
            if case is not None and changed_fields:
                self._refresh_case(session, case, feedback, triage, changed_fields, now)
            elif case is None and triage.open_case:
                feedback.department = triage.department
                case = self._open_case(session, feedback, triage, now)
            elif case is None and created and triage.notify:
                session.add(new_delivery(DeliveryKind.NOTICE, feedback.id, None, None, now))
            session.flush()
            return IntakeOutcome(
                feedback_id=feedback.id,
                case_id=case.id if case else None,
                category=feedback.category,
                department=case.department if case else feedback.department,
                created=created,
                changed=created or bool(changed_fields) or raw_changed,
            )

    def _lock_or_insert_feedback(
        self, session: Session, data: FeedbackData, triage: Triage, now: datetime
    ) -> tuple[Feedback, bool]:
        query = (
            select(Feedback)
            .where(Feedback.survey == data.survey, Feedback.external_id == data.external_id)
            # NO KEY UPDATE, not UPDATE: it still serialises two sends of one response, but does
            # not block the KEY SHARE lock that inserting a delivery (a foreign key to this row)
            # takes, so a deadline sweep holding the case cannot deadlock with this intake.
            .with_for_update(key_share=True)
        )
        existing = session.scalar(query)
        if existing is not None:
            return existing, False
        feedback = Feedback(
            external_id=data.external_id,
            survey=data.survey,
            category=triage.category,
            department=triage.department,
            received_at=now,
            updated_at=now,
            revision=1,
            raw=data.raw,
            **_feedback_values(data),
        )
        try:
            with session.begin_nested():
                session.add(feedback)
        except IntegrityError:
            # A concurrent request with the same response id won the insert: update its row instead.
            existing = session.scalar(query)
            if existing is None:
                raise
            return existing, False
        return feedback, True

    def _open_case(self, session: Session, feedback: Feedback, triage: Triage, now: datetime) -> Case:
        case = Case(
            feedback_id=feedback.id,
            department=triage.department,
            category=triage.category,
            priority=triage.priority,
            status=CaseStatus.NEW,
            created_at=now,
            updated_at=now,
            version=1,
            message_version=0,
        )
        session.add(case)
        session.flush()
        session.add(CaseEvent(case_id=case.id, at=now, actor="intake", kind=EventKind.CREATED, details={}))
        self._replan(session, case, feedback, now, due=True)
        return case

    def _refresh_case(
        self,
        session: Session,
        case: Case,
        feedback: Feedback,
        triage: Triage,
        changed_fields: list[str],
        now: datetime,
    ) -> None:
        details: dict[str, Any] = {"fields": changed_fields, "revision": feedback.revision}
        if case.category != triage.category:
            details["category"] = [case.category, triage.category]
            case.category = triage.category
        if case.status == CaseStatus.NEW:
            case.priority = triage.priority
        case.version += 1
        case.updated_at = now
        record_event(session, case, "intake", EventKind.FEEDBACK_UPDATED, details, now, reply=True)
        if case.status == CaseStatus.NEW and case.owner_id is None and triage.department != case.department:
            self._reroute(session, case, feedback, triage.department, now)
        self._replan(session, case, feedback, now, due=True)

    def _reroute(
        self, session: Session, case: Case, feedback: Feedback, department: str, now: datetime
    ) -> None:
        """Move an untouched case to the department its updated response belongs to (the comment
        that routes it often arrives after the score). The old message, if posted, is owed an
        edit pointing to the new one; the new channel is owed a fresh case message."""
        details = {
            "from": case.department,
            "to": department,
            "old_channel": case.slack_channel,
            "old_ts": case.slack_ts,
        }
        event = record_event(session, case, "intake", EventKind.REROUTED, details, now, reply=False)
        if case.slack_ts is not None:
            session.add(new_delivery(DeliveryKind.MOVED, feedback.id, case.id, event.id, now))
        case.department = department
        feedback.department = department
        case.slack_channel = None
        case.slack_ts = None
        case.message_version = 0
        case.post_attempts = 0
        retire_chains(session, case.id, steps=None)  # the new department's people are told afresh

    # ---- case state changes -------------------------------------------------------------------
    # Each is one UPDATE whose condition is the lifecycle table's guard for the action (see
    # `_guarded_update`); the use case checked who may act before, against the owner it saw.

    def claim(self, case_id: int, user_id: str, now: datetime) -> ChangeResult:
        return self._guarded_update(
            Action.CLAIM,
            case_id,
            user_id,
            now,
            expected_owner=None,  # a claim takes an unowned case
            values={"owner_id": user_id, "status": CaseStatus.CLAIMED, "claimed_at": now},
            kind=EventKind.CLAIMED,
            details={},
        )

    def release(self, case_id: int, user_id: str, now: datetime) -> ChangeResult:
        return self._guarded_update(
            Action.RELEASE,
            case_id,
            user_id,
            now,
            values={"owner_id": None, "status": CaseStatus.NEW, "claimed_at": None},
            kind=EventKind.RELEASED,
            details={},
        )

    def log_contact(self, case_id: int, user_id: str, channel: str, note: str, now: datetime) -> ChangeResult:
        return self._guarded_update(
            Action.LOG_CONTACT,
            case_id,
            user_id,
            now,
            values={"status": CaseStatus.CONTACTED, "contacted_at": now, "contact_channel": channel},
            kind=EventKind.CONTACT_LOGGED,
            details={"channel": channel, "note": note},
        )

    def close(
        self,
        case_id: int,
        user_id: str,
        details: CloseDetails,
        now: datetime,
        *,
        expected_owner: str | None,
    ) -> ChangeResult:
        """Close if still open and still owned by `expected_owner` (the owner the caller checked
        permissions against); an unowned case becomes the closer's."""
        return self._guarded_update(
            Action.CLOSE,
            case_id,
            user_id,
            now,
            expected_owner=expected_owner,
            values={
                "status": CaseStatus.CLOSED,
                "owner_id": expected_owner or user_id,
                "closed_at": now,
                "closed_by": user_id,
                "outcome": details.outcome,
                "contact_channel": details.contact_channel,
                "root_cause": details.root_cause,
                "remedy": details.remedy,
                "close_note": details.note,
                "customer_informed": details.customer_informed,
            },
            kind=EventKind.CLOSED,
            details={
                "outcome": details.outcome,
                "contact_channel": details.contact_channel,
                "root_cause": details.root_cause,
                "remedy": details.remedy,
                "note": details.note,
                "customer_informed": details.customer_informed,
            },
            announce=True,
        )

    def reopen(
        self, case_id: int, user_id: str, now: datetime, *, expected_owner: str | None
    ) -> ChangeResult:
        """Back to where it was before closing (claimed, or contacted), owner kept; the close-out is
        cleared from the case (the history keeps it) and its deadlines come back."""
        return self._guarded_update(
            Action.REOPEN,
            case_id,
            user_id,
            now,
            expected_owner=expected_owner,
            values={
                "status": sa_case(
                    (Case.contacted_at.is_not(None), CaseStatus.CONTACTED), else_=CaseStatus.CLAIMED
                ),
                "closed_at": None,
                "closed_by": None,
                "outcome": None,
                "root_cause": None,
                "remedy": None,
                "close_note": None,
                "customer_informed": None,
            },
            kind=EventKind.REOPENED,
            details={},
            after=self._restart_close_clock,
        )

    def _restart_close_clock(
        self, session: Session, case: Case, feedback: Feedback, event: CaseEvent, now: datetime
    ) -> None:
        """A reopened loop gets a fresh close deadline from now (the old one is long gone), and
        its close escalations start over instead of firing at once."""
        case.close_due_at = self.planner.close_due_from(snapshot(case, feedback), now)
        retire_chains(session, case.id, steps=(Step.CLOSE,))

    def reassign(
        self,
        case_id: int,
        by: str,
        new_owner: str,
        now: datetime,
        *,
        expected_owner: str | None,
        step: str | None = None,
    ) -> ChangeResult:
        """Give an open case, still owned by `expected_owner`, to `new_owner`, who is told by direct
        message. Answering an escalation this way (`step`) also acknowledges it: the manager has
        acted."""

        def tell_and_acknowledge(
            session: Session, case: Case, feedback: Feedback, event: CaseEvent, now: datetime
        ) -> None:
            session.add(
                new_delivery(
                    DeliveryKind.ASSIGNED_DM, feedback.id, case.id, event.id, now, recipient=new_owner
                )
            )
            if step is not None:
                acknowledge_chain(session, case.id, step, by)

        if new_owner == expected_owner:  # nothing to hand over: the guard alone would let it through
            return ChangeResult(applied=False, case=self.find_case(case_id))
        return self._guarded_update(
            Action.REASSIGN,
            case_id,
            by,
            now,
            expected_owner=expected_owner,
            values={
                "owner_id": new_owner,
                "claimed_at": now,
                "status": sa_case((Case.status == CaseStatus.NEW, CaseStatus.CLAIMED), else_=Case.status),
            },
            kind=EventKind.REASSIGNED,
            details={"from": expected_owner, "to": new_owner, "step": step},
            after=tell_and_acknowledge,
        )

    @staticmethod
    def _guard(action: Action, user_id: str, expected_owner: str | None) -> tuple[ColumnElement[bool], ...]:
        """The lifecycle table's guard for `action` as WHERE clauses: still in a status it may be
        taken from, and still owned by the actor (or by the owner the permission was checked
        against)."""
        rule = lifecycle.guard(action)
        if rule.owner is OwnerCondition.ACTOR:
            owner = Case.owner_id == user_id
        elif expected_owner is None:
            owner = Case.owner_id.is_(None)
        else:
            owner = Case.owner_id == expected_owner
        return (Case.status.in_(sorted(rule.statuses)), owner)

    def _guarded_update(
        self,
        action: Action,
        case_id: int,
        user_id: str,
        now: datetime,
        *,
        values: dict[str, Any],
        kind: EventKind,
        details: dict[str, Any],
        expected_owner: str | None = None,
        announce: bool = False,
        after: Callable[[Session, Case, Feedback, CaseEvent, datetime], None] | None = None,
    ) -> ChangeResult:
        """One conditional UPDATE checked by rowcount, so of two concurrent changes one wins;
        `expected_owner` matters only for actions not reserved to the owner."""
        with self.database.transaction() as session:
            statement = (
                update(Case)
                .where(Case.id == case_id, *self._guard(action, user_id, expected_owner))
                .values(**values, version=Case.version + 1, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            rowcount = session.execute(statement).rowcount  # type: ignore[attr-defined]
            try:
                case, feedback = self._load(session, case_id)
            except CaseNotFound:
                return ChangeResult(applied=False, case=None)
            if rowcount != 1:
                return ChangeResult(applied=False, case=snapshot(case, feedback))
            event = record_event(session, case, user_id, kind, details, now, reply=True)
            if announce:
                session.add(new_delivery(DeliveryKind.ANNOUNCEMENT, feedback.id, case.id, event.id, now))
            if after is not None:
                after(session, case, feedback, event, now)
            self._replan(session, case, feedback, now, due=False)
            return ChangeResult(applied=True, case=snapshot(case, feedback))

    def record_refusal(self, case_id: int, user_id: str, refusal: Refusal, now: datetime) -> None:
        """Who tried what they may not, for the audit trail; the case itself does not change."""
        with self.database.transaction() as session:
            case = session.get(Case, case_id)
            if case is not None:
                details = {"action": str(refusal.action), "reason": str(refusal.code)}
                record_event(session, case, user_id, EventKind.REFUSED, details, now, reply=False)

    # ---- reads --------------------------------------------------------------------------------

    @staticmethod
    def _load(session: Session, case_id: int) -> tuple[Case, Feedback]:
        session.expire_all()
        row = session.execute(
            select(Case, Feedback).join(Feedback, Feedback.id == Case.feedback_id).where(Case.id == case_id)
        ).first()
        if row is None:
            raise CaseNotFound(case_id)
        return row[0], row[1]

    def get_case(self, case_id: int) -> CaseSnapshot:
        with self.database.transaction() as session:
            return snapshot(*self._load(session, case_id))

    def find_case(self, case_id: int) -> CaseSnapshot | None:
        try:
            return self.get_case(case_id)
        except CaseNotFound:
            return None

    def history(self, case_id: int) -> list[EventRecord]:
        with self.database.transaction() as session:
            rows = session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
            )
            return [EventRecord(e.id, e.case_id, e.at, e.actor, e.kind, dict(e.details)) for e in rows]

    def event(self, event_id: int) -> EventRecord:
        with self.database.transaction() as session:
            e = session.get_one(CaseEvent, event_id)
            return EventRecord(e.id, e.case_id, e.at, e.actor, e.kind, dict(e.details))

    def feedback(self, feedback_id: int) -> Feedback:
        with self.database.transaction() as session:
            row = session.get_one(Feedback, feedback_id)
            session.expunge(row)
            return row

    def open_cases_of(self, user_id: str, limit: int = 20) -> tuple[int, list[CaseSnapshot]]:
        """How many open cases the user owns, and the oldest `limit` of them (a Home tab holds
        100 blocks, so the list is capped but the count is not)."""
        with self.database.transaction() as session:
            return count_and_oldest(
                session, [Case.owner_id == user_id, Case.status.in_(OPEN_STATUSES)], limit
            )

    def counts(self) -> dict[str, int]:
        """Row counts per table: used by tests to prove a rejected request stored nothing."""

        with self.database.transaction() as session:
            return {
                model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
                for model in (Feedback, Case, CaseEvent, Delivery)
            }
