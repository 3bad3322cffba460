"""Case state changes and reads, each one short transaction; the intake's writes are in
storage.feedback_intake.

State changes are single guarded UPDATE statements checked by rowcount (never read-then-write),
so two people clicking Claim at once cannot both win, on SQLite or PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy import case as sa_case
from sqlalchemy.orm import Session

from bot.domain import lifecycle
from bot.domain.lifecycle import Action, OwnerCondition, Refusal
from bot.domain.records import (
    CaseSnapshot,
    ChangeResult,
    CloseDetails,
    EventRecord,
    FeedbackData,
    IntakeOutcome,
    Triage,
)
from bot.domain.turnarounds import won_back_note
from bot.domain.vocabulary import OPEN_STATUSES, CaseStatus, DeliveryKind, EventKind, FollowUp, Outcome, Step
from storage.case_webhooks import CaseEventMirror, MirroredEvent
from storage.customer_messages import cancel_pending
from storage.db import Database
from storage.deadline_store import (
    DeadlinePlanner,
    NoDeadlines,
    acknowledge_chain,
    retire_chains,
)
from storage.feedback_intake import FeedbackIntake
from storage.history import new_delivery, record_event
from storage.models import Case, CaseEvent, Delivery, Feedback
from storage.planning import replan
from storage.snapshots import count_and_oldest, snapshot
from storage.themes import owner_themes
from storage.turnarounds import record_turnaround, turnaround_cases


class CaseNotFound(LookupError):
    pass


class Repository:
    def __init__(
        self,
        database: Database,
        planner: DeadlinePlanner | None = None,
        mirror: CaseEventMirror | None = None,
    ) -> None:
        self.database = database
        self.planner: DeadlinePlanner = planner or NoDeadlines()
        # Writes the outbound case events the policy's webhooks want, with each change.
        self.mirror = mirror
        self._intake = FeedbackIntake(database, self.planner, mirror)

    def _replan(self, session: Session, case: Case, feedback: Feedback, now: datetime, *, due: bool) -> None:
        replan(session, self.planner, case, feedback, now, due=due)

    # ---- intake -------------------------------------------------------------------------------

    def record_feedback(
        self, data: FeedbackData, decide: Callable[[FeedbackData], Triage], now: datetime
    ) -> IntakeOutcome:
        """Upsert a response and open or refresh its case, in one transaction (see
        storage.feedback_intake)."""
        return self._intake.record(data, decide, now)

    def turnaround_cases(self, later_feedback_id: int) -> list[int]:
        """Earlier cases the promoter response `later_feedback_id` turned around (storage.turnarounds)."""
        with self.database.connection() as connection:
            return turnaround_cases(connection, later_feedback_id)

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
        announce: bool = True,
    ) -> ChangeResult:
        """Close if still open and still owned by `expected_owner` (the owner the caller checked
        permissions against); an unowned case becomes the closer's. `announce`: a shout-out is
        owed too (the caller decides from its policy which outcomes are celebrated)."""
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
                # "Not yet": the customer is owed a word, and the owner a reminder (outer_loop).
                "follow_up": None if details.customer_informed else FollowUp.OWED,
            },
            kind=EventKind.CLOSED,
            details={
                "outcome": details.outcome,
                "contact_channel": details.contact_channel,
                "root_cause": details.root_cause,
                "remedy": details.remedy,
                "note": details.note,
                "customer_informed": details.customer_informed,
                **({"themes": list(details.themes)} if details.themes is not None else {}),
            },
            announce=announce,
            after=None if details.themes is None else owner_themes(details.themes),
        )

    def close_won_back(
        self, case_id: int, user_id: str, from_score: int, now: datetime, *, announce: bool
    ) -> ChangeResult:
        """The owner closes a case whose customer turned promoter: outcome resolved, no root
        cause or remedy (none of the policy's lists fits, and none was needed), a note saying
        why; counted as won back for the owner in the same transaction (storage.turnarounds),
        whose shout-out is the ordinary one when `announce` (the policy's announced outcomes)."""

        def count_won_back(
            session: Session, case: Case, feedback: Feedback, event: CaseEvent, now: datetime
        ) -> None:
            note = won_back_note(feedback.score)  # the score as it stands when the close is written
            case.close_note = note
            event.details = {**event.details, "note": note}
            record_turnaround(
                session.connection(),
                earlier_case_id=case.id,
                owner_id=user_id,
                later_feedback_id=feedback.id,
                from_score=from_score,
                to_score=feedback.score,
                contacted_at=case.contacted_at,
                closed_at=now,
                now=now,
                announce=False,  # the close's own shout-out celebrates it
            )

        details = {"outcome": Outcome.RESOLVED, "won_back": True, "from_score": from_score}
        return self._guarded_update(
            Action.WIN_BACK,
            case_id,
            user_id,
            now,
            values={
                "status": CaseStatus.CLOSED,
                "closed_at": now,
                "closed_by": user_id,
                "outcome": Outcome.RESOLVED,
                "root_cause": None,
                "remedy": None,
                "customer_informed": None,
            },
            kind=EventKind.CLOSED,
            details=details,
            announce=announce,
            after=count_won_back,
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
                    # A case that closed itself on its customer's new score had no owner: new again.
                    (Case.owner_id.is_(None), CaseStatus.NEW),
                    (Case.contacted_at.is_not(None), CaseStatus.CONTACTED),
                    else_=CaseStatus.CLAIMED,
                ),
                "closed_at": None,
                "closed_by": None,
                "outcome": None,
                "root_cause": None,
                "remedy": None,
                "close_note": None,
                "customer_informed": None,
                "follow_up": None,
            },
            kind=EventKind.REOPENED,
            details={},
            after=self._restart_close_clock,
        )

    def _restart_close_clock(
        self, session: Session, case: Case, feedback: Feedback, event: CaseEvent, now: datetime
    ) -> None:
        """A reopened loop gets a fresh close deadline from now (the old one is long gone), its
        close escalations start over instead of firing at once, and a follow-up still waiting to
        go (backing off) is cancelled: the customer hears nothing about a loop open again."""
        case.close_due_at = self.planner.close_due_from(snapshot(case, feedback), now)
        retire_chains(session, case.id, steps=(Step.CLOSE,))
        cancel_pending(session, case.id, "the loop was reopened before it went")

    def reassign(
        self,
        case_id: int,
        by: str,
        new_owner: str,
        now: datetime,
        *,
        expected_owner: str | None,
        step: str | None = None,
        reason: str | None = None,
        action: Action = Action.REASSIGN,
    ) -> ChangeResult:
        """Give an open case, still owned by `expected_owner`, to `new_owner`, who is told by direct
        message. Answering an escalation this way (`step`) also acknowledges it: the manager has
        acted. A hand-over (`action` HAND_OVER, from the case message) records its `reason`."""

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
        details = {"from": expected_owner, "to": new_owner, "step": step}
        if reason is not None:
            details["reason"] = reason
        return self._guarded_update(
            action,
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
            details=details,
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
            # A Core UPDATE on the session's connection: the ORM's bulk UPDATE machinery would
            # only add cost here (nothing in the session to synchronise; `_load` reads it back).
            statement = (
                update(Case.__table__)
                .where(Case.id == case_id, *self._guard(action, user_id, expected_owner))
                .values(**values, version=Case.version + 1, updated_at=now)
            )
            rowcount = session.connection().execute(statement).rowcount
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
            if self.mirror is not None:  # the event as `after` left it, in the same transaction
                session.flush()
                mirrored = MirroredEvent(event.id, case.id, kind, user_id, dict(event.details), now)
                self.mirror.owe(session.connection(), [mirrored], now)
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
