"""'You said, we did' rows: who has a theme to hear about, the announcements, their recipients.

One live recipient row per (theme, customer) and per (theme, mailbox), inserted ON CONFLICT DO
NOTHING on those unique keys, so two confirmations of one theme (a double click, two managers,
two processes) tell each customer once; a row known not sent (failed, skipped) is outside the
keys and stays in its announcement's summary. Sending is paced from the database: an
announcement's `next_at` is its next free slot, taken with a conditional update, so all
processes together keep the pace, and a restart resumes where the rows stand. As for a
follow-up, `sending` is committed before the SMTP send: a row found `sending` with its lease
gone is uncertain and not resent by itself (a webhook, carrying its id, simply goes again). The
announcement is `done` once no recipient is pending or sending; the transaction that says so
writes the summary's deliveries, once per department.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.domain.shipped import Audience, Candidate, Tally, customer_key
from bot.domain.vocabulary import Category, DeliveryKind, EventKind, MessageStatus
from storage.db import Database
from storage.history import new_delivery, record_event
from storage.models import (
    Case,
    Feedback,
    ShippedAnnouncement,
    ShippedRecipient,
    ShippedSummary,
    ThemeTag,
)

SENDING, DONE = "sending", "done"  # an announcement's status
SKIPPED = "skipped"  # a recipient refused at sending (an opt-out, the suppression list): not written to
NOT_TOLD = (MessageStatus.FAILED, SKIPPED)  # known not sent: outside the unique keys (RECIPIENT_LIVE)
RECIPIENTS = ShippedRecipient.__table__
UNSETTLED = (MessageStatus.PENDING, MessageStatus.SENDING)


@dataclass(frozen=True)
class Announced:
    """What a confirmation wrote: its id (None when nobody was left to tell) and how many
    customers it queued; `already` were queued meanwhile by another confirmation."""

    id: int | None
    queued: int
    already: int


@dataclass(frozen=True)
class Lease:
    """One recipient to send to now, with its announcement's words."""

    id: int
    announcement_id: int
    theme: str
    label: str
    note: str
    author: str
    feedback_id: int
    case_id: int | None
    department: str
    via: str
    customer: str
    name: str | None
    to_address: str | None
    language: str | None
    attempts: int
    lease_until: datetime
    external_id: str
    survey: str
    customer_id: str | None
    contact_ok: bool | None


@dataclass(frozen=True)
class Summary:
    announcement_id: int
    label: str
    author: str
    department: str
    tally: Tally


class ShippedStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    # ---- who -----------------------------------------------------------------------------------

    def candidates(self, theme: str) -> tuple[list[Candidate], set[str]]:
        """The detractor and passive responses carrying `theme` (a tag or a pick at close),
        newest first, and the customers already told (or being told) about it."""
        themed = (
            select(ThemeTag.feedback_id)
            .where(
                ThemeTag.theme == theme,
                ThemeTag.category.in_((Category.DETRACTOR, Category.PASSIVE)),
            )
            .distinct()
            .subquery()
        )
        query = (
            select(
                Feedback.id,
                Case.id,
                Feedback.department,
                Feedback.customer_id,
                Feedback.customer_name,
                Feedback.customer_email,
                Feedback.contact_ok,
                Feedback.language,
                Feedback.received_at,
            )
            .join(themed, themed.c.feedback_id == Feedback.id)
            .outerjoin(Case, Case.feedback_id == Feedback.id)
            .order_by(Feedback.received_at.desc(), Feedback.id.desc())
        )
        with self.database.transaction() as session:
            found = [Candidate(*row) for row in session.execute(query)]
            told: set[str] = set()  # known not sent (failed, skipped) leaves its customer still to tell
            for customer, via, address in session.execute(
                select(ShippedRecipient.customer, ShippedRecipient.via, ShippedRecipient.to_address).where(
                    ShippedRecipient.theme == theme, ShippedRecipient.status.not_in(NOT_TOLD)
                )
            ):
                told.add(customer)
                mailbox = customer_key(None, address) if via == "email" else None
                if mailbox is not None:
                    told.add(mailbox)  # the same mailbox, whatever key a later response brings
        return found, told

    # ---- confirming ----------------------------------------------------------------------------

    def announce(
        self, *, theme: str, label: str, note: str, author: str, audience: Audience, now: datetime
    ) -> Announced:
        """One announcement and a row per recipient; a customer someone else queued meanwhile is
        left to them (the unique keys), one whose mail failed before (known not sent) gets a new
        row here (the failed one stays in its own summary), and an announcement left with nobody
        is not kept."""
        departments = sorted({r.department for r in audience.recipients})
        with self.database.transaction() as session:
            row = ShippedAnnouncement(
                theme=theme,
                label=label[:100],
                note=note,
                author=author,
                departments=departments,
                skipped=audience.skipped,
                status=SENDING,
                created_at=now,
                next_at=now,
            )
            session.add(row)
            session.flush()
            connection = session.connection()
            dialect_insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[
                connection.dialect.name
            ]
            rows = [_recipient_row(row.id, theme, r) for r in audience.recipients]
            written: set[str] = set()
            for chunk in _chunks(rows, 500):  # a customer (or mailbox) told or being told stays so
                inserted = connection.execute(
                    dialect_insert(RECIPIENTS)
                    .values(chunk)
                    .on_conflict_do_nothing()
                    .returning(RECIPIENTS.c.customer)
                )
                written.update(inserted.scalars())
            queued = len(written)
            already = len(audience.recipients) - queued
            if queued == 0:
                session.delete(row)
                return Announced(None, 0, already)
            return Announced(row.id, queued, already)

    # ---- sending -------------------------------------------------------------------------------

    def lease_next(self, now: datetime, lease: timedelta, interval: timedelta) -> Lease | float | None:
        """The next recipient, leased, if the pace allows one now; else the seconds until it
        does (0.0: another process took this slot, ask again); None when nothing is due."""
        ready = _ready(now)
        with self.database.transaction() as session:
            found = session.execute(
                select(ShippedAnnouncement.id, ShippedAnnouncement.next_at)
                .where(
                    ShippedAnnouncement.status == SENDING,
                    exists(ready.where(ShippedRecipient.announcement_id == ShippedAnnouncement.id)),
                )
                .order_by(ShippedAnnouncement.id)
                .limit(1)
            ).first()
            if found is None:
                return None
            announcement_id, next_at = found
            if next_at > now:
                return (next_at - now).total_seconds()
            took = session.execute(
                update(ShippedAnnouncement)
                .where(ShippedAnnouncement.id == announcement_id, ShippedAnnouncement.next_at == next_at)
                .values(next_at=max(next_at, now) + interval)
            ).rowcount  # type: ignore[attr-defined]
            if took != 1:
                return 0.0
            recipient_id = session.scalar(
                ready.where(ShippedRecipient.announcement_id == announcement_id)
                .order_by(ShippedRecipient.id)
                .limit(1)
            )
            if recipient_id is None:
                return 0.0
            until = now + lease
            taken = session.execute(
                update(ShippedRecipient)
                .where(ShippedRecipient.id == recipient_id, ShippedRecipient.status == MessageStatus.PENDING)
                .where(or_(ShippedRecipient.lease_until.is_(None), ShippedRecipient.lease_until < now))
                .values(lease_until=until)
            ).rowcount  # type: ignore[attr-defined]
            if taken != 1:
                return 0.0
            return _lease(session, recipient_id, until)

    def mark_sending(self, recipient_id: int, ours: datetime, now: datetime, message_id: str) -> bool:
        """Committed before the send: from here on a crash leaves the mail uncertain. False if our
        lease is gone or has run out (another process may have found the row and taken it for a
        crashed send), as for a follow-up (storage.customer_messages)."""
        with self.database.transaction() as session:
            return (
                session.execute(
                    update(ShippedRecipient)
                    .where(
                        ShippedRecipient.id == recipient_id,
                        ShippedRecipient.status == MessageStatus.PENDING,
                        ShippedRecipient.lease_until == ours,
                        ShippedRecipient.lease_until > now,
                    )
                    .values(
                        status=MessageStatus.SENDING,
                        attempts=ShippedRecipient.attempts + 1,
                        message_id=message_id,
                    )
                ).rowcount  # type: ignore[attr-defined]
                == 1
            )

    def mark_sent(self, recipient_id: int, now: datetime) -> None:
        """Sent: and the customer's case (if any) records that they were told about the theme."""
        with self.database.transaction() as session:
            row = session.get(ShippedRecipient, recipient_id, with_for_update=True)
            if row is None or row.status != MessageStatus.SENDING:
                return
            row.status, row.sent_at, row.lease_until, row.last_error = MessageStatus.SENT, now, None, None
            if row.case_id is not None:
                announcement = session.get_one(ShippedAnnouncement, row.announcement_id)
                case = session.get_one(Case, row.case_id)
                details: dict[str, Any] = {
                    "theme": announcement.theme,
                    "label": announcement.label,
                    "announcement": announcement.id,
                    "via": row.via,
                    "by": announcement.author,
                    "message_id": row.message_id,
                }
                record_event(
                    session, case, announcement.author, EventKind.SHIPPED_TOLD, details, now, reply=False
                )

    def retry_later(self, recipient_id: int, error: str, retry_at: datetime) -> None:
        with self.database.transaction() as session:
            session.execute(
                update(ShippedRecipient)
                .where(ShippedRecipient.id == recipient_id, ShippedRecipient.status.in_(UNSETTLED))
                .values(
                    status=MessageStatus.PENDING, last_error=error[:500], lease_until=None, retry_at=retry_at
                )
            )

    def mark_skipped(self, recipient_id: int, code: str, error: str) -> None:
        """Refused at sending (the customer opted out, or the suppression list grew meanwhile):
        counted with the announcement's skipped customers, not as a mail that could not go."""
        with self.database.transaction() as session:
            row = session.get(ShippedRecipient, recipient_id, with_for_update=True)
            if row is None or row.status not in UNSETTLED:
                return
            row.status, row.last_error, row.lease_until = SKIPPED, error[:500], None
            announcement = session.get_one(ShippedAnnouncement, row.announcement_id, with_for_update=True)
            skipped = {d: dict(reasons) for d, reasons in (announcement.skipped or {}).items()}
            reasons = skipped.setdefault(row.department, {})
            reasons[code] = reasons.get(code, 0) + 1
            announcement.skipped = skipped

    def mark_failed(self, recipient_id: int, error: str, *, uncertain: bool = False) -> None:
        status = MessageStatus.UNCERTAIN if uncertain else MessageStatus.FAILED
        with self.database.transaction() as session:
            session.execute(
                update(ShippedRecipient)
                .where(ShippedRecipient.id == recipient_id, ShippedRecipient.status.in_(UNSETTLED))
                .values(status=status, last_error=error[:500], lease_until=None)
            )

    def find_interrupted(self, now: datetime) -> int:
        """Sends whose process died mid-way: an e-mail becomes uncertain (never resent by
        itself), a webhook goes again (the receiver drops a copy by its id). Returns how many
        e-mails were made uncertain."""
        stale = (ShippedRecipient.status == MessageStatus.SENDING, ShippedRecipient.lease_until < now)
        error = "the bot stopped while sending: the mail may or may not have gone out"
        with self.database.transaction() as session:
            if session.scalar(select(ShippedRecipient.id).where(*stale).limit(1)) is None:
                return 0  # the usual case: nothing was interrupted
            session.execute(
                update(ShippedRecipient)
                .where(*stale, ShippedRecipient.via != "email")
                .values(status=MessageStatus.PENDING, lease_until=None)
            )
            return session.execute(
                update(ShippedRecipient)
                .where(*stale, ShippedRecipient.via == "email")
                .values(status=MessageStatus.UNCERTAIN, lease_until=None, last_error=error)
            ).rowcount  # type: ignore[attr-defined]

    def settle(self, now: datetime) -> list[int]:
        """Announcements with every recipient settled become `done`, and owe each department's
        channel its summary; the conditional update makes that happen once, whoever asks."""
        unsettled = exists().where(
            ShippedRecipient.announcement_id == ShippedAnnouncement.id, ShippedRecipient.status.in_(UNSETTLED)
        )
        done = []
        with self.database.transaction() as session:
            ids = list(
                session.scalars(
                    select(ShippedAnnouncement.id).where(ShippedAnnouncement.status == SENDING, ~unsettled)
                )
            )
            for announcement_id in ids:
                flipped = session.execute(
                    update(ShippedAnnouncement)
                    .where(ShippedAnnouncement.id == announcement_id, ShippedAnnouncement.status == SENDING)
                    .values(status=DONE, done_at=now)
                ).rowcount  # type: ignore[attr-defined]
                if flipped != 1:
                    continue
                per_department = session.execute(
                    select(ShippedRecipient.department, func.min(ShippedRecipient.feedback_id))
                    .where(ShippedRecipient.announcement_id == announcement_id)
                    .group_by(ShippedRecipient.department)
                    .order_by(ShippedRecipient.department)
                )
                for department, feedback_id in per_department:
                    delivery = new_delivery(DeliveryKind.SHIPPED_SUMMARY, feedback_id, None, None, now)
                    session.add(delivery)
                    session.flush()
                    session.add(
                        ShippedSummary(
                            delivery_id=delivery.id, announcement_id=announcement_id, department=department
                        )
                    )
                done.append(announcement_id)
        return done

    def next_retry_at(self, now: datetime) -> datetime | None:
        with self.database.transaction() as session:
            return session.scalar(
                select(func.min(ShippedRecipient.retry_at)).where(
                    ShippedRecipient.status == MessageStatus.PENDING, ShippedRecipient.retry_at > now
                )
            )

    # ---- reading -------------------------------------------------------------------------------

    def summary(self, delivery_id: int) -> Summary | None:
        with self.database.transaction() as session:
            owed = session.get(ShippedSummary, delivery_id)
            if owed is None:
                return None
            announcement = session.get_one(ShippedAnnouncement, owed.announcement_id)
            return Summary(
                announcement.id,
                announcement.label,
                announcement.author,
                owed.department,
                _tally(session, announcement, owed.department),
            )

    def counts(self, announcement_id: int) -> Counter[str]:
        """Recipients by status (for tests)."""
        with self.database.transaction() as session:
            rows = session.execute(
                select(ShippedRecipient.status, func.count())
                .where(ShippedRecipient.announcement_id == announcement_id)
                .group_by(ShippedRecipient.status)
            )
            return Counter({status: n for status, n in rows})


def _ready(now: datetime) -> Select[tuple[int]]:
    return select(ShippedRecipient.id).where(
        ShippedRecipient.status == MessageStatus.PENDING,
        or_(ShippedRecipient.lease_until.is_(None), ShippedRecipient.lease_until < now),
        or_(ShippedRecipient.retry_at.is_(None), ShippedRecipient.retry_at <= now),
    )


def _lease(session: Session, recipient_id: int, until: datetime) -> Lease:
    r, a, f = session.execute(
        select(ShippedRecipient, ShippedAnnouncement, Feedback)
        .join(ShippedAnnouncement, ShippedAnnouncement.id == ShippedRecipient.announcement_id)
        .join(Feedback, Feedback.id == ShippedRecipient.feedback_id)
        .where(ShippedRecipient.id == recipient_id)
    ).one()
    return Lease(
        r.id, a.id, a.theme, a.label, a.note, a.author, r.feedback_id, r.case_id, r.department, r.via,
        r.customer, r.name, r.to_address, r.language, r.attempts, until, f.external_id, f.survey,
        f.customer_id, f.contact_ok,
    )  # fmt: skip


def _tally(session: Session, announcement: ShippedAnnouncement, department: str) -> Tally:
    rows = session.execute(
        select(ShippedRecipient.status, func.count())
        .where(ShippedRecipient.announcement_id == announcement.id, ShippedRecipient.department == department)
        .group_by(ShippedRecipient.status)
    )
    by_status = {status: n for status, n in rows}
    return Tally(
        told=by_status.get(MessageStatus.SENT, 0),
        failed=by_status.get(MessageStatus.FAILED, 0),
        uncertain=by_status.get(MessageStatus.UNCERTAIN, 0),
        skipped=dict((announcement.skipped or {}).get(department, {})),
    )


def _recipient_row(announcement_id: int, theme: str, r: Any) -> dict[str, Any]:
    return {
        "announcement_id": announcement_id,
        "theme": theme,
        "customer": r.customer[:330],
        "feedback_id": r.feedback_id,
        "case_id": r.case_id,
        "department": r.department,
        "via": r.via,
        "name": (r.name or None) and r.name[:200],
        "to_address": r.to_address,
        "language": r.language,
        "status": MessageStatus.PENDING,
        "attempts": 0,
    }


def _chunks(rows: Sequence[dict[str, Any]], size: int) -> list[Sequence[dict[str, Any]]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]
