"""Follow-ups to customers: the rows the mail worker leases, and the case changes each step makes.

Each step is one short transaction that changes the message row, the case (`follow_up`, its
version, so the case message shows it) and the history together, and owes Slack what it owes
(a thread reply, a direct message) as deliveries in the same transaction.

Nothing is sent twice after a crash: a row is marked `sending` (committed) before the SMTP
send. A `sending` e-mail whose lease ran out was being sent by a process that died; it becomes
`uncertain` and its author is asked, never resent on its own. A webhook carries its id, so the
receiver de-duplicates: such a row simply goes again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot.domain.outer_loop import OWING
from bot.domain.records import CaseSnapshot
from bot.domain.vocabulary import CaseStatus, DeliveryKind, EventKind, FollowUp, MessageStatus
from storage.db import Database
from storage.deadline_store import DeadlinePlanner
from storage.history import new_delivery, record_event
from storage.models import Case, CustomerMessage, Feedback
from storage.planning import replan
from storage.snapshots import snapshot

# What a message given up shows on its case, and the history event that says so.
_FATES = {
    MessageStatus.FAILED: (FollowUp.FAILED, EventKind.FOLLOW_UP_FAILED),
    MessageStatus.UNCERTAIN: (FollowUp.UNCERTAIN, EventKind.FOLLOW_UP_UNCERTAIN),
}


@dataclass(frozen=True)
class MessageRecord:
    id: int
    case_id: int
    via: str
    status: str
    author: str
    to_address: str | None
    reply_to: str | None
    note: str
    language: str | None
    message_id: str | None
    created_at: datetime
    attempts: int
    lease_until: datetime | None
    retry_at: datetime | None
    sent_at: datetime | None
    last_error: str | None


def _record(row: CustomerMessage) -> MessageRecord:
    return MessageRecord(*(getattr(row, name) for name in MessageRecord.__dataclass_fields__))


@dataclass(frozen=True)
class Queued:
    """The message written (None when refused), the case as it then stands, and why not."""

    message: MessageRecord | None
    case: CaseSnapshot | None
    refusal: str | None = None


@dataclass(frozen=True)
class Leased:
    message: MessageRecord
    case: CaseSnapshot


class CustomerMessages:
    def __init__(self, database: Database, planner: DeadlinePlanner) -> None:
        self.database = database
        self.planner = planner

    # ---- the owner's side ---------------------------------------------------------------------

    def queue(
        self,
        case_id: int,
        author: str,
        note: str,
        *,
        via: str,
        to_address: str | None,
        language: str | None,
        now: datetime,
    ) -> Queued:
        """Owe the customer this message, unless one is on its way already or they were told: a
        double click, or two people at once, write one row (the case row is locked)."""
        with self.database.transaction() as session:
            locked = _lock_case(session, case_id)
            if locked is None:
                return Queued(None, None, "This case no longer exists.")
            case, feedback = locked
            if case.status != CaseStatus.CLOSED:
                return Queued(None, snapshot(case, feedback), "The loop is open again: close it first.")
            if case.follow_up == FollowUp.SENDING:
                return Queued(
                    None, snapshot(case, feedback), "A follow-up to this customer is on its way already."
                )
            if case.follow_up == FollowUp.TOLD:
                return Queued(None, snapshot(case, feedback), "The customer has been told already.")
            if _on_its_way(session, case_id):  # one from before a reopen, still being sent
                return Queued(
                    None, snapshot(case, feedback), "A follow-up to this customer is on its way already."
                )
            row = CustomerMessage(
                case_id=case_id,
                via=via,
                status=MessageStatus.PENDING,
                author=author,
                to_address=to_address,
                note=note,
                language=language,
                created_at=now,
                attempts=0,
            )
            session.add(row)
            session.flush()
            details = {"message": row.id, "via": via}
            _change_case(session, case, FollowUp.SENDING, now)
            record_event(session, case, author, EventKind.FOLLOW_UP_QUEUED, details, now, reply=False)
            replan(session, self.planner, case, feedback, now, due=False)
            return Queued(_record(row), snapshot(case, feedback))

    def not_needed(self, case_id: int, user: str, now: datetime) -> Queued:
        """The owner says the customer needs no word: reminders stop."""
        with self.database.transaction() as session:
            locked = _lock_case(session, case_id)
            if locked is None:
                return Queued(None, None, "This case no longer exists.")
            case, feedback = locked
            if case.status != CaseStatus.CLOSED or case.follow_up not in OWING:
                return Queued(None, snapshot(case, feedback), _why_not_owed(case))
            _change_case(session, case, FollowUp.NOT_NEEDED, now)
            event = record_event(session, case, user, EventKind.FOLLOW_UP_NOT_NEEDED, {}, now, reply=False)
            session.add(new_delivery(DeliveryKind.FOLLOW_UP_REPLY, feedback.id, case.id, event.id, now))
            replan(session, self.planner, case, feedback, now, due=False)
            return Queued(None, snapshot(case, feedback))

    def latest(self, case_id: int) -> MessageRecord | None:
        with self.database.transaction() as session:
            row = session.scalar(
                select(CustomerMessage)
                .where(CustomerMessage.case_id == case_id)
                .order_by(CustomerMessage.id.desc())
                .limit(1)
            )
            return None if row is None else _record(row)

    def of_case(self, case_id: int) -> list[MessageRecord]:
        with self.database.transaction() as session:
            rows = session.scalars(
                select(CustomerMessage).where(CustomerMessage.case_id == case_id).order_by(CustomerMessage.id)
            )
            return [_record(row) for row in rows]

    # ---- the worker's side --------------------------------------------------------------------

    def find_interrupted(self, now: datetime, max_attempts: int, limit: int = 100) -> list[MessageRecord]:
        """Sends whose process died mid-way (`sending`, lease run out): an e-mail becomes
        uncertain, and its author is asked by direct message; a webhook goes again (its id lets
        the receiver drop a copy) unless it has had `max_attempts` already, then it has failed.
        Returns the rows settled so (their cases owe Slack an update)."""
        found = []
        with self.database.transaction() as session:
            rows = list(
                session.scalars(
                    select(CustomerMessage)
                    .where(CustomerMessage.status == MessageStatus.SENDING, CustomerMessage.lease_until < now)
                    .order_by(CustomerMessage.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            for row in rows:
                row.lease_until = None
                if row.via != "email" and row.attempts < max_attempts:
                    row.status = MessageStatus.PENDING
                    continue
                if row.via != "email":
                    row.status = MessageStatus.FAILED
                    row.last_error = f"the helpdesk call broke off {row.attempts} times: given up"
                else:
                    row.status = MessageStatus.UNCERTAIN
                    row.last_error = "the bot stopped while sending: the mail may or may not have gone out"
                self._settle(session, row, *_FATES[row.status], now, dm=True)
                found.append(_record(row))
        return found

    def lease_next(self, now: datetime, seconds: float, tries: int = 5) -> Leased | None:
        """The first pending message due now (not backing off), leased until `now + seconds`;
        one at a time, just before it is sent, so no lease runs out while others are sent."""
        free = or_(CustomerMessage.lease_until.is_(None), CustomerMessage.lease_until < now)
        ready = or_(CustomerMessage.retry_at.is_(None), CustomerMessage.retry_at <= now)
        for _ in range(tries):  # another worker may take the one we saw: look again
            with self.database.transaction() as session:
                message_id = session.scalar(
                    select(CustomerMessage.id)
                    .where(CustomerMessage.status == MessageStatus.PENDING, free, ready)
                    .order_by(CustomerMessage.id)
                    .limit(1)
                )
                if message_id is None:
                    return None
                taken = session.execute(
                    update(CustomerMessage)
                    .where(
                        CustomerMessage.id == message_id,
                        CustomerMessage.status == MessageStatus.PENDING,
                        free,
                    )
                    .values(lease_until=now + timedelta(seconds=seconds))
                ).rowcount  # type: ignore[attr-defined]
                if taken != 1:
                    continue
                row = session.get_one(CustomerMessage, message_id)
                case, feedback = session.execute(
                    select(Case, Feedback)
                    .join(Feedback, Feedback.id == Case.feedback_id)
                    .where(Case.id == row.case_id)
                ).one()
                return Leased(_record(row), snapshot(case, feedback))
        return None

    def mark_sending(
        self,
        message_id: int,
        ours: datetime,
        now: datetime,
        seconds: float,
        reply_to: str | None,
        message_header: str,
    ) -> bool:
        """Committed before the send: from here on a crash leaves the mail uncertain. The lease
        is renewed to `now + seconds` (the whole conversation); False if our lease is gone or has
        run out (someone else may have the row)."""
        with self.database.transaction() as session:
            return (
                session.execute(
                    update(CustomerMessage)
                    .where(
                        CustomerMessage.id == message_id,
                        CustomerMessage.status == MessageStatus.PENDING,
                        CustomerMessage.lease_until == ours,
                        CustomerMessage.lease_until > now,
                    )
                    .values(
                        status=MessageStatus.SENDING,
                        attempts=CustomerMessage.attempts + 1,
                        lease_until=now + timedelta(seconds=seconds),
                        reply_to=reply_to,
                        message_id=message_header,
                    )
                ).rowcount  # type: ignore[attr-defined]
                == 1
            )

    def cancel(self, message_id: int, reason: str) -> None:
        """Not sent and never will be: its case is no longer waiting for it (reopened)."""
        with self.database.transaction() as session:
            session.execute(
                update(CustomerMessage)
                .where(CustomerMessage.id == message_id, CustomerMessage.status == MessageStatus.PENDING)
                .values(_cancelled(reason))
            )

    def mark_sent(self, message_id: int, now: datetime) -> CaseSnapshot | None:
        with self.database.transaction() as session:
            row = session.get(CustomerMessage, message_id, with_for_update=True)
            if row is None or row.status != MessageStatus.SENDING:
                return None
            row.status, row.sent_at, row.lease_until, row.last_error = MessageStatus.SENT, now, None, None
            return self._settle(session, row, FollowUp.TOLD, EventKind.CUSTOMER_TOLD, now, dm=False)

    def retry_later(self, message_id: int, error: str, retry_at: datetime) -> None:
        """Known not to have gone (the server refused, or was not reached): try again then."""
        with self.database.transaction() as session:
            session.execute(
                update(CustomerMessage)
                .where(
                    CustomerMessage.id == message_id,
                    CustomerMessage.status.in_((MessageStatus.SENDING, MessageStatus.PENDING)),
                )
                .values(
                    status=MessageStatus.PENDING, last_error=error[:500], lease_until=None, retry_at=retry_at
                )
            )

    def mark_failed(self, message_id: int, error: str, now: datetime, *, uncertain: bool = False) -> None:
        """Given up (or, `uncertain`, an answer lost mid-send): shown on the case, its author told."""
        status = MessageStatus.UNCERTAIN if uncertain else MessageStatus.FAILED
        with self.database.transaction() as session:
            row = session.get(CustomerMessage, message_id, with_for_update=True)
            if row is None or row.status not in (MessageStatus.SENDING, MessageStatus.PENDING):
                return
            row.status, row.last_error, row.lease_until = status, error[:500], None
            self._settle(session, row, *_FATES[status], now, dm=True)

    def next_retry_at(self, now: datetime) -> datetime | None:
        """When the first message now backing off is due (the worker comes back then)."""
        with self.database.transaction() as session:
            return session.scalar(
                select(CustomerMessage.retry_at)
                .where(CustomerMessage.status == MessageStatus.PENDING, CustomerMessage.retry_at > now)
                .order_by(CustomerMessage.retry_at)
                .limit(1)
            )

    def owed(self) -> int:
        with self.database.transaction() as session:
            return len(
                list(
                    session.scalars(
                        select(CustomerMessage.id)
                        .where(CustomerMessage.status == MessageStatus.PENDING)
                        .limit(1000)
                    )
                )
            )

    def _settle(
        self,
        session: Session,
        row: CustomerMessage,
        follow_up: FollowUp,
        kind: EventKind,
        now: datetime,
        *,
        dm: bool,
    ) -> CaseSnapshot:
        """The case shows the message's fate; the thread says it, and with `dm` its author hears."""
        case, feedback = session.execute(
            select(Case, Feedback)
            .join(Feedback, Feedback.id == Case.feedback_id)
            .where(Case.id == row.case_id)
            .with_for_update(of=Case)
        ).one()
        details: dict[str, Any] = {"message": row.id, "via": row.via, "by": row.author}
        if row.last_error and follow_up != FollowUp.TOLD:
            details["error"] = row.last_error
        if follow_up == FollowUp.TOLD:
            details["message_id"] = row.message_id
        if case.status == CaseStatus.CLOSED and case.follow_up == FollowUp.SENDING:
            _change_case(session, case, follow_up, now, informed=True if follow_up == FollowUp.TOLD else None)
        actor = row.author if follow_up == FollowUp.TOLD else "closeloop"
        event = record_event(session, case, actor, kind, details, now, reply=False)
        session.add(new_delivery(DeliveryKind.FOLLOW_UP_REPLY, feedback.id, case.id, event.id, now))
        if dm:
            session.add(
                new_delivery(
                    DeliveryKind.FOLLOW_UP_DM, feedback.id, case.id, event.id, now, recipient=row.author
                )
            )
        replan(session, self.planner, case, feedback, now, due=False)
        return snapshot(case, feedback)


def _on_its_way(session: Session, case_id: int) -> bool:
    return (
        session.scalar(
            select(CustomerMessage.id)
            .where(
                CustomerMessage.case_id == case_id,
                CustomerMessage.status.in_((MessageStatus.PENDING, MessageStatus.SENDING)),
            )
            .limit(1)
        )
        is not None
    )


def cancel_pending(session: Session, case_id: int, reason: str) -> None:
    """A reopened case waits for no follow-up: what is still pending (backing off) never goes."""
    session.execute(
        update(CustomerMessage)
        .where(CustomerMessage.case_id == case_id, CustomerMessage.status == MessageStatus.PENDING)
        .values(_cancelled(reason))
    )


def _cancelled(reason: str) -> dict[str, Any]:
    return {"status": MessageStatus.CANCELLED, "last_error": reason[:500], "lease_until": None}


def _lock_case(session: Session, case_id: int) -> tuple[Case, Feedback] | None:
    row = session.execute(
        select(Case, Feedback)
        .join(Feedback, Feedback.id == Case.feedback_id)
        .where(Case.id == case_id)
        .with_for_update(of=Case)
    ).first()
    return None if row is None else (row[0], row[1])


def _change_case(
    session: Session, case: Case, follow_up: FollowUp, now: datetime, *, informed: bool | None = None
) -> None:
    case.follow_up = follow_up
    if informed is not None:
        case.customer_informed = informed
    case.version = case.version + 1
    case.updated_at = now
    session.flush()


def _why_not_owed(case: Case) -> str:
    if case.status != CaseStatus.CLOSED:
        return "The loop is open again: nothing to mark."
    if case.follow_up == FollowUp.TOLD:
        return "The customer has been told already."
    if case.follow_up == FollowUp.SENDING:
        return "A follow-up to this customer is on its way."
    return "Nothing is owed to this customer."
