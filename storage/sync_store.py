"""What is owed to Slack, and leases on it.

A case message is owed while it was never posted (`slack_ts` is NULL) or shows an older version
than the case; thread replies, announcements and notices are `deliveries` rows. Work is leased
with a conditional UPDATE so two workers, threads or processes never send the same thing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from storage.db import Database
from storage.models import Case, Delivery, Feedback
from storage.records import CaseSnapshot, DeliveryRecord
from storage.repository import snapshot
from storage.vocabulary import DeliveryStatus


def _delivery_record(row: Delivery) -> DeliveryRecord:
    return DeliveryRecord(row.id, row.kind, row.case_id, row.feedback_id, row.event_id, row.attempts)


class SyncStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def cases_needing_sync(self, now: datetime, limit: int = 100) -> list[int]:
        lease_free = or_(Case.sync_lease_until.is_(None), Case.sync_lease_until < now)
        with self.database.transaction() as session:
            stale = select(Case.id).where(
                lease_free, or_(Case.slack_ts.is_(None), Case.message_version < Case.version)
            )
            owed = (
                select(Delivery.case_id)
                .join(Case, Case.id == Delivery.case_id)
                .where(Delivery.status == DeliveryStatus.PENDING, lease_free)
            )
            ids = set(session.scalars(stale.limit(limit))) | set(session.scalars(owed.limit(limit)))
            return sorted(i for i in ids if i is not None)[:limit]

    def lease_case(self, case_id: int, now: datetime, seconds: float) -> CaseSnapshot | None:
        """Take the right to sync a case's Slack messages for `seconds`; None if someone has it."""
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

    def release_case(self, case_id: int, *, error: str | None = None) -> None:
        with self.database.transaction() as session:
            session.execute(
                update(Case).where(Case.id == case_id).values(sync_lease_until=None, sync_error=error)
            )

    def mark_posted(self, case_id: int, channel: str, ts: str, version: int) -> None:
        with self.database.transaction() as session:
            session.execute(
                update(Case)
                .where(Case.id == case_id, Case.slack_ts.is_(None))
                .values(slack_channel=channel, slack_ts=ts, message_version=version)
            )

    def mark_rendered(self, case_id: int, version: int) -> None:
        with self.database.transaction() as session:
            session.execute(
                update(Case)
                .where(Case.id == case_id, Case.message_version < version)
                .values(message_version=version)
            )

    def pending_deliveries(self, *, case_id: int | None) -> list[DeliveryRecord]:
        """Pending deliveries of one case (oldest first), or the case-less ones when None."""
        with self.database.transaction() as session:
            query = select(Delivery).where(Delivery.status == DeliveryStatus.PENDING).order_by(Delivery.id)
            query = query.where(
                Delivery.case_id.is_(None) if case_id is None else Delivery.case_id == case_id
            )
            return [_delivery_record(row) for row in session.scalars(query.limit(200))]

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
                    attempts=Delivery.attempts + 1,
                )
            )

    def mark_attempt_failed(self, delivery_id: int, error: str, *, permanent: bool) -> None:
        status = DeliveryStatus.FAILED if permanent else DeliveryStatus.PENDING
        with self.database.transaction() as session:
            session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(
                    status=status,
                    last_error=error[:500],
                    lease_until=None,
                    attempts=Delivery.attempts + 1,
                )
            )

    def thread_of(self, case_id: int) -> tuple[str | None, str | None]:
        with self.database.transaction() as session:
            row = session.execute(select(Case.slack_channel, Case.slack_ts).where(Case.id == case_id)).one()
            return row[0], row[1]
