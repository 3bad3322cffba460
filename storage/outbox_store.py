"""The outbox's rows: what is owed to Slack, and leases on it.

A case message is owed while it was never posted (`slack_ts` is NULL) or shows an older version
than the case; every other message (thread replies, announcements, notices, direct messages) is
a delivery, one `deliveries` row each. Work is leased with a conditional UPDATE so two workers,
threads or processes never send the same thing twice. A case's lease is short and renewed while
it is worked on; it is fenced by the expiry its holder wrote (`ours`), so a holder that lost it
can neither renew nor free someone else's. (The `sync_*` columns of `cases` keep their old
names: renaming them needs a migration.)

The "owed" condition is written exactly as the partial index `ix_cases_owed` is (`OWED`), so the
outbox worker's scan reads only owed rows, whatever the history; `ix_cases_leased` holds only cases
leased now, so finding leases to come back for after a crash costs nothing either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select, update

from bot.domain.records import CaseSnapshot, DeliveryRecord
from bot.domain.vocabulary import DeliveryStatus
from storage.db import Database
from storage.models import CASE_MESSAGE_OWED as OWED
from storage.models import Case, Delivery, Feedback
from storage.snapshots import snapshot


@dataclass(frozen=True)
class OutboxState:
    """What the outbox checks before leasing a case: where its message is (if posted), and its
    department (which names the channel to post it to)."""

    department: str
    slack_channel: str | None
    slack_ts: str | None
    leased_until: datetime | None


def _delivery_record(row: Delivery) -> DeliveryRecord:
    return DeliveryRecord(
        row.id,
        row.kind,
        row.case_id,
        row.feedback_id,
        row.event_id,
        row.attempts,
        row.recipient,
        row.created_at,
    )


def _fence(ours: datetime | None) -> list[ColumnElement[bool]]:
    return [] if ours is None else [Case.sync_lease_until == ours]


def _ready(now: datetime) -> ColumnElement[bool]:
    return or_(Delivery.retry_at.is_(None), Delivery.retry_at <= now)


class OutboxStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def cases_owed(self, now: datetime, limit: int = 100) -> list[int]:
        """Cases whose case message or deliveries are owed and may be tried now (not leased, not
        backing off)."""
        lease_free = or_(Case.sync_lease_until.is_(None), Case.sync_lease_until < now)
        not_backing_off = or_(Case.sync_retry_at.is_(None), Case.sync_retry_at <= now)
        with self.database.transaction() as session:
            stale = select(Case.id).where(
                lease_free,
                not_backing_off,
                OWED,
            )
            owed = (
                select(Delivery.case_id)
                .join(Case, Case.id == Delivery.case_id)
                .where(Delivery.status == DeliveryStatus.PENDING, lease_free, not_backing_off, _ready(now))
            )
            ids = set(session.scalars(stale.limit(limit))) | set(session.scalars(owed.limit(limit)))
            return sorted(i for i in ids if i is not None)[:limit]

    def owed_by_kind(self) -> dict[str, tuple[int, datetime | None]]:
        """How much is owed to Slack per kind, and since when the oldest waits: the case message
        (never posted, or showing an older version) and each kind of pending delivery."""
        with self.database.transaction() as session:
            count, oldest = session.execute(select(func.count(), func.min(Case.updated_at)).where(OWED)).one()
            owed: dict[str, tuple[int, datetime | None]] = {"case_message": (int(count), oldest)}
            deliveries = session.execute(
                select(Delivery.kind, func.count(), func.min(Delivery.created_at))
                .where(Delivery.status == DeliveryStatus.PENDING)
                .group_by(Delivery.kind)
            )
            for kind, kind_count, kind_oldest in deliveries:
                owed[str(kind)] = (int(kind_count), kind_oldest)
            return owed

    def outbox_state(self, case_id: int) -> OutboxState | None:
        with self.database.transaction() as session:
            row = session.execute(
                select(Case.department, Case.slack_channel, Case.slack_ts, Case.sync_lease_until).where(
                    Case.id == case_id
                )
            ).one_or_none()
            return None if row is None else OutboxState(*row)

    def leased(self, limit: int = 100) -> list[tuple[int, datetime]]:
        """Cases leased now (by any process), soonest expiry first: after a crash, the leases a
        dead process left are worth coming back for as soon as they run out."""
        with self.database.transaction() as session:
            rows = session.execute(
                select(Case.id, Case.sync_lease_until)
                .where(Case.sync_lease_until.is_not(None))
                .order_by(Case.sync_lease_until)
                .limit(limit)
            )
            return [(int(case_id), until) for case_id, until in rows if until is not None]

    def renew_case_lease(self, case_id: int, ours: datetime, until: datetime) -> bool:
        """Extend our lease to `until`; False if the case is no longer ours (it ran out and was taken)."""
        with self.database.transaction() as session:
            statement = (
                update(Case)
                .where(Case.id == case_id, Case.sync_lease_until == ours)
                .values(sync_lease_until=until)
            )
            return session.execute(statement).rowcount == 1  # type: ignore[attr-defined]

    def lease_case(self, case_id: int, now: datetime, seconds: float) -> CaseSnapshot | None:
        """Take the right to deliver a case's messages until `now + seconds` (the snapshot's
        `leased_until` is the fence for renewing and releasing it); None if someone has it."""
        with self.database.transaction() as session:
            statement = (
                update(Case)
                .where(
                    Case.id == case_id,
                    or_(Case.sync_lease_until.is_(None), Case.sync_lease_until < now),
                )
                .values(sync_lease_until=now + timedelta(seconds=seconds))
                .execution_options(synchronize_session=False)
            )
            if session.execute(statement).rowcount != 1:  # type: ignore[attr-defined]
                return None
            row = session.execute(
                select(Case, Feedback)
                .join(Feedback, Feedback.id == Case.feedback_id)
                .where(Case.id == case_id)
            ).one()
            return snapshot(row[0], row[1])

    def release_case(
        self,
        case_id: int,
        *,
        error: str | None = None,
        retry_at: datetime | None = None,
        ours: datetime | None = None,
    ) -> None:
        """Give the case back; after an error, not to be tried again before `retry_at`. With
        `ours`, only if the lease is still the one we hold."""
        values: dict[str, object] = {"sync_lease_until": None, "sync_error": error, "sync_retry_at": retry_at}
        values["sync_failures"] = 0 if error is None else Case.sync_failures + 1
        with self.database.transaction() as session:
            session.execute(update(Case).where(Case.id == case_id, *_fence(ours)).values(**values))

    def defer_case(self, case_id: int, retry_at: datetime, *, ours: datetime | None = None) -> None:
        """Give the case back to be tried at `retry_at` (posting faster would exceed Slack's
        pace); its error and failure count stay as they were: being paced is not failing."""
        with self.database.transaction() as session:
            session.execute(
                update(Case)
                .where(Case.id == case_id, *_fence(ours))
                .values(sync_lease_until=None, sync_retry_at=retry_at)
            )

    def failures(self, case_id: int) -> int:
        with self.database.transaction() as session:
            return session.scalar(select(Case.sync_failures).where(Case.id == case_id)) or 0

    def retry_now(self) -> int:
        """Forget every backoff (the bot was just invited to a channel, say): try all at once."""
        with self.database.transaction() as session:
            cases = session.execute(
                update(Case).where(Case.sync_retry_at.is_not(None)).values(sync_retry_at=None)
            ).rowcount  # type: ignore[attr-defined]
            deliveries = session.execute(
                update(Delivery)
                .where(Delivery.status == DeliveryStatus.PENDING, Delivery.retry_at.is_not(None))
                .values(retry_at=None)
            ).rowcount  # type: ignore[attr-defined]
            return int(cases or 0) + int(deliveries or 0)

    def problems(self) -> list[tuple[str, str, int]]:
        """What is stuck and why, for `closeloop check`: (what, last error, how many)."""
        with self.database.transaction() as session:
            cases = session.execute(
                select(Case.sync_error, func.count())
                .where(Case.sync_error.is_not(None))
                .group_by(Case.sync_error)
            )
            deliveries = session.execute(
                select(Delivery.kind, Delivery.status, Delivery.last_error, func.count())
                .where(
                    Delivery.last_error.is_not(None),
                    Delivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.FAILED)),
                )
                .group_by(Delivery.kind, Delivery.status, Delivery.last_error)
            )
            found = [("case messages", str(error), int(count)) for error, count in cases]
            for kind, status, error, count in deliveries:
                what = f"{kind.replace('_', ' ')}s" + (
                    " (given up)" if status == DeliveryStatus.FAILED else ""
                )
                found.append((what, str(error), int(count)))
            return found

    def note_post_attempt(self, case_id: int) -> None:
        """Written before a post is sent, so a crash or timeout afterwards is known to be uncertain."""
        with self.database.transaction() as session:
            session.execute(
                update(Case).where(Case.id == case_id).values(post_attempts=Case.post_attempts + 1)
            )

    def mark_posted(self, case_id: int, department: str, channel: str, ts: str, version: int) -> bool:
        """Record the case message; False if the case moved to another department meanwhile."""
        with self.database.transaction() as session:
            statement = (
                update(Case)
                .where(Case.id == case_id, Case.slack_ts.is_(None), Case.department == department)
                .values(slack_channel=channel, slack_ts=ts, message_version=version)
            )
            return session.execute(statement).rowcount == 1  # type: ignore[attr-defined]

    def forget_message(self, case_id: int) -> None:
        """The case message was deleted in Slack: post it afresh (its thread replies follow)."""
        with self.database.transaction() as session:
            session.execute(
                update(Case)
                .where(Case.id == case_id)
                .values(slack_channel=None, slack_ts=None, message_version=0, post_attempts=0)
            )

    def mark_rendered(self, case_id: int, version: int) -> None:
        with self.database.transaction() as session:
            session.execute(
                update(Case)
                .where(Case.id == case_id, Case.message_version < version)
                .values(message_version=version)
            )

    def pending_deliveries(self, *, case_id: int | None, now: datetime | None = None) -> list[DeliveryRecord]:
        """Pending deliveries of one case (oldest first), or the case-less ones when None; with
        `now`, only those not backing off after a failure."""
        with self.database.transaction() as session:
            query = select(Delivery).where(Delivery.status == DeliveryStatus.PENDING).order_by(Delivery.id)
            if now is not None:
                query = query.where(_ready(now))
            query = query.where(
                Delivery.case_id.is_(None) if case_id is None else Delivery.case_id == case_id
            )
            return [_delivery_record(row) for row in session.scalars(query.limit(200))]

    def next_notice_at(self, now: datetime) -> datetime | None:
        """When the first case-less delivery now waiting (paced, or after a 429) is due."""
        with self.database.transaction() as session:
            return session.scalar(
                select(func.min(Delivery.retry_at)).where(
                    Delivery.case_id.is_(None),
                    Delivery.status == DeliveryStatus.PENDING,
                    Delivery.retry_at > now,
                )
            )

    def lease_delivery(self, delivery_id: int, now: datetime, seconds: float) -> bool:
        with self.database.transaction() as session:
            statement = (
                update(Delivery)
                .where(
                    Delivery.id == delivery_id,
                    Delivery.status == DeliveryStatus.PENDING,
                    or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
                )
                .values(lease_until=now + timedelta(seconds=seconds))
            )
            return session.execute(statement).rowcount == 1  # type: ignore[attr-defined]

    def note_delivery_attempt(self, delivery_id: int) -> None:
        with self.database.transaction() as session:
            session.execute(
                update(Delivery).where(Delivery.id == delivery_id).values(attempts=Delivery.attempts + 1)
            )

    def mark_delivered(self, delivery_id: int, channel: str, ts: str, now: datetime) -> None:
        with self.database.transaction() as session:
            session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(
                    status=DeliveryStatus.SENT,
                    slack_channel=channel,
                    slack_ts=ts,
                    sent_at=now,
                    lease_until=None,
                )
            )

    def mark_skipped(self, delivery_id: int, reason: str) -> None:
        with self.database.transaction() as session:
            session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(status=DeliveryStatus.SKIPPED, last_error=reason[:500], lease_until=None)
            )

    def defer_delivery(self, delivery_id: int, retry_at: datetime) -> None:
        """Give a leased delivery back, to be sent at `retry_at`; no error: it was only paced."""
        with self.database.transaction() as session:
            session.execute(
                update(Delivery).where(Delivery.id == delivery_id).values(lease_until=None, retry_at=retry_at)
            )

    def mark_attempt_failed(
        self, delivery_id: int, error: str, *, permanent: bool, retry_at: datetime | None = None
    ) -> None:
        status = DeliveryStatus.FAILED if permanent else DeliveryStatus.PENDING
        with self.database.transaction() as session:
            session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(status=status, last_error=error[:500], lease_until=None, retry_at=retry_at)
            )
