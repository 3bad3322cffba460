"""Feedback intake and case state changes, each one short transaction.

State changes are single guarded UPDATE statements checked by rowcount (never read-then-write),
so two people clicking Claim at once cannot both win, on SQLite or PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.db import Database
from storage.models import Case, CaseEvent, Delivery, Feedback
from storage.records import (
    FEEDBACK_FIELDS,
    CaseSnapshot,
    ChangeResult,
    CloseDetails,
    EventRecord,
    FeedbackData,
    IntakeOutcome,
    Triage,
)
from storage.vocabulary import OPEN_STATUSES, CaseStatus, DeliveryKind, DeliveryStatus, EventKind


class CaseNotFound(LookupError):
    pass


def _feedback_values(data: FeedbackData) -> dict[str, Any]:
    values = {name: getattr(data, name) for name in FEEDBACK_FIELDS}
    values["tags"] = list(data.tags)
    return values


def snapshot(case: Case, feedback: Feedback) -> CaseSnapshot:
    return CaseSnapshot(
        id=case.id,
        version=case.version,
        status=case.status,
        department=case.department,
        category=case.category,
        priority=case.priority,
        owner_id=case.owner_id,
        created_at=case.created_at,
        claimed_at=case.claimed_at,
        contacted_at=case.contacted_at,
        closed_at=case.closed_at,
        closed_by=case.closed_by,
        outcome=case.outcome,
        contact_channel=case.contact_channel,
        root_cause=case.root_cause,
        remedy=case.remedy,
        close_note=case.close_note,
        customer_informed=case.customer_informed,
        slack_channel=case.slack_channel,
        slack_ts=case.slack_ts,
        message_version=case.message_version,
        feedback_id=feedback.id,
        external_id=feedback.external_id,
        survey=feedback.survey,
        score=feedback.score,
        comment=feedback.comment,
        customer_id=feedback.customer_id,
        customer_name=feedback.customer_name,
        customer_email=feedback.customer_email,
        customer_account=feedback.customer_account,
        customer_segment=feedback.customer_segment,
        customer_value=feedback.customer_value,
        tags=tuple(feedback.tags or ()),
        touchpoint=feedback.touchpoint,
        language=feedback.language,
        submitted_at=feedback.submitted_at,
        received_at=feedback.received_at,
    )


class Repository:
    def __init__(self, database: Database) -> None:
        self.database = database

    # ---- intake -------------------------------------------------------------------------------

    def record_feedback(self, data: FeedbackData, triage: Triage, now: datetime) -> IntakeOutcome:
        """Upsert a response and open or refresh its case, in one transaction.

        Re-sent responses update the same rows; only fields the sender included are changed.
        """
        with self.database.transaction() as session:
            feedback, created = self._lock_or_insert_feedback(session, data, triage, now)
            changed_fields: list[str] = []
            if not created:
                for name, value in _feedback_values(data).items():
                    if name in data.provided and getattr(feedback, name) != value:
                        setattr(feedback, name, value)
                        changed_fields.append(name)
                if changed_fields:
                    feedback.category = triage.category
                    feedback.revision += 1
                    feedback.updated_at = now
                    feedback.raw = data.raw
            case = session.scalar(select(Case).where(Case.feedback_id == feedback.id).with_for_update())
            if case is not None and changed_fields:
                self._refresh_case(session, case, feedback, triage, changed_fields, now)
            elif case is None and triage.open_case:
                feedback.department = triage.department
                case = self._open_case(session, feedback, triage, now)
            elif case is None and created and triage.notify:
                session.add(self._delivery(DeliveryKind.NOTICE, feedback.id, None, None, now))
            session.flush()
            return IntakeOutcome(
                feedback_id=feedback.id,
                case_id=case.id if case else None,
                category=feedback.category,
                department=case.department if case else feedback.department,
                created=created,
                changed=created or bool(changed_fields),
            )

    def _lock_or_insert_feedback(
        self, session: Session, data: FeedbackData, triage: Triage, now: datetime
    ) -> tuple[Feedback, bool]:
        query = (
            select(Feedback)
            .where(Feedback.survey == data.survey, Feedback.external_id == data.external_id)
            .with_for_update()
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
        self._record(session, case, "intake", EventKind.FEEDBACK_UPDATED, details, now, reply=True)

    # ---- case state changes -------------------------------------------------------------------

    def claim(self, case_id: int, user_id: str, now: datetime) -> ChangeResult:
        applied = self._guarded_update(
            case_id,
            user_id,
            now,
            guard=(Case.owner_id.is_(None), Case.status == CaseStatus.NEW),
            values={"owner_id": user_id, "status": CaseStatus.CLAIMED, "claimed_at": now},
            kind=EventKind.CLAIMED,
            details={},
        )
        return applied

    def release(self, case_id: int, user_id: str, now: datetime) -> ChangeResult:
        return self._guarded_update(
            case_id,
            user_id,
            now,
            guard=(Case.owner_id == user_id, Case.status.in_(OPEN_STATUSES)),
            values={"owner_id": None, "status": CaseStatus.NEW, "claimed_at": None},
            kind=EventKind.RELEASED,
            details={},
        )

    def log_contact(self, case_id: int, user_id: str, channel: str, note: str, now: datetime) -> ChangeResult:
        return self._guarded_update(
            case_id,
            user_id,
            now,
            guard=(Case.owner_id == user_id, Case.status.in_(OPEN_STATUSES)),
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
        owner_guard = Case.owner_id.is_(None) if expected_owner is None else Case.owner_id == expected_owner
        return self._guarded_update(
            case_id,
            user_id,
            now,
            guard=(owner_guard, Case.status.in_(OPEN_STATUSES)),
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

    def _guarded_update(
        self,
        case_id: int,
        user_id: str,
        now: datetime,
        *,
        guard: tuple[ColumnElement[bool], ...],
        values: dict[str, Any],
        kind: EventKind,
        details: dict[str, Any],
        announce: bool = False,
    ) -> ChangeResult:
        with self.database.transaction() as session:
            statement = (
                update(Case)
                .where(Case.id == case_id, *guard)
                .values(**values, version=Case.version + 1, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            rowcount = session.execute(statement).rowcount  # type: ignore[attr-defined]
            case, feedback = self._load(session, case_id)
            if rowcount != 1:
                return ChangeResult(applied=False, case=snapshot(case, feedback))
            event = self._record(session, case, user_id, kind, details, now, reply=True)
            if announce:
                session.add(self._delivery(DeliveryKind.ANNOUNCEMENT, feedback.id, case.id, event.id, now))
            return ChangeResult(applied=True, case=snapshot(case, feedback))

    def _record(
        self,
        session: Session,
        case: Case,
        actor: str,
        kind: EventKind,
        details: dict[str, Any],
        now: datetime,
        *,
        reply: bool,
    ) -> CaseEvent:
        event = CaseEvent(case_id=case.id, at=now, actor=actor, kind=kind, details=details)
        session.add(event)
        session.flush()
        if reply:
            session.add(self._delivery(DeliveryKind.THREAD_REPLY, case.feedback_id, case.id, event.id, now))
        return event

    @staticmethod
    def _delivery(
        kind: DeliveryKind, feedback_id: int, case_id: int | None, event_id: int | None, now: datetime
    ) -> Delivery:
        return Delivery(
            kind=kind,
            feedback_id=feedback_id,
            case_id=case_id,
            event_id=event_id,
            status=DeliveryStatus.PENDING,
            created_at=now,
            attempts=0,
        )

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

    def open_cases_of(self, user_id: str, limit: int = 20) -> list[CaseSnapshot]:
        with self.database.transaction() as session:
            rows = session.execute(
                select(Case, Feedback)
                .join(Feedback, Feedback.id == Case.feedback_id)
                .where(Case.owner_id == user_id, Case.status.in_(OPEN_STATUSES))
                .order_by(Case.created_at)
                .limit(limit)
            )
            return [snapshot(case, feedback) for case, feedback in rows]

    def counts(self) -> dict[str, int]:
        """Row counts per table: used by tests to prove a rejected request stored nothing."""
        from sqlalchemy import func

        with self.database.transaction() as session:
            return {
                model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
                for model in (Feedback, Case, CaseEvent, Delivery)
            }
