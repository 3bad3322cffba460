"""The weekly digest's rows: who sends each (digest, period), and how far the send has got.

`claim` is the once-per-period rule. The first process to ask inserts the row (INSERT … ON
CONFLICT DO NOTHING, on PostgreSQL and SQLite alike) and holds it under a lease while it sends;
everyone else gets the row back and sends nothing. A row still `sending` whose lease ran out
belongs to a process that died (or gave up for a while after a Slack error): one conditional
UPDATE lets exactly one other process take it over and resume after the parts recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.domain.digest_send import DigestSend, SendStatus
from storage.db import Database
from storage.models import DigestRow

DIGESTS = DigestRow.__table__


@dataclass(frozen=True)
class Claim:
    """The row as it is after asking, and whether this caller now sends it (`mine`); `new` when
    this caller inserted it rather than taking over an abandoned send."""

    send: DigestSend
    mine: bool
    new: bool = False


def _record(row: DigestRow) -> DigestSend:
    return DigestSend(
        id=row.id,
        digest=row.digest,
        period=row.period,
        channel=row.channel,
        status=SendStatus(row.status),
        lease_until=row.lease_until,
        attempts=row.attempts,
        lead_ts=row.lead_ts,
        parts_done=row.parts_done,
        created_at=row.created_at,
        sent_at=row.sent_at,
        sent_by=row.sent_by,
        last_error=row.last_error,
    )


class DigestStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def find(self, digest: str, period: str) -> DigestSend | None:
        with self.database.transaction() as session:
            row = session.scalars(
                select(DigestRow).where(DigestRow.digest == digest, DigestRow.period == period)
            ).one_or_none()
            return None if row is None else _record(row)

    def claim(
        self, digest: str, period: str, channel: str, *, now: datetime, lease: timedelta, by: str
    ) -> Claim:
        """Insert the row and hold it, or take over an abandoned send, or neither (someone else's)."""
        known = self.find(digest, period)
        if known is not None and known.status != SendStatus.SENDING:
            # the scheduler asks every minute: a week done needs no write (and no SQLite write lock)
            return Claim(known, mine=False)
        with self.database.transaction() as session:
            connection = session.connection()
            dialect_insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[
                connection.dialect.name
            ]
            inserted = connection.execute(
                dialect_insert(DIGESTS)
                .values(
                    digest=digest,
                    period=period,
                    channel=channel,
                    status=SendStatus.SENDING,
                    lease_until=now + lease,
                    attempts=1,
                    parts_done=0,
                    created_at=now,
                    sent_by=by,
                )
                .on_conflict_do_nothing(index_elements=[DIGESTS.c.digest, DIGESTS.c.period])
                .returning(DIGESTS.c.id)
            ).scalar()
            new = inserted is not None
            taken = new or (
                connection.execute(
                    update(DIGESTS)
                    .where(
                        DIGESTS.c.digest == digest,
                        DIGESTS.c.period == period,
                        DIGESTS.c.status == SendStatus.SENDING,
                        or_(DIGESTS.c.lease_until.is_(None), DIGESTS.c.lease_until <= now),
                    )
                    .values(lease_until=now + lease, attempts=DIGESTS.c.attempts + 1, sent_by=by)
                ).rowcount
                == 1
            )
            row = session.scalars(
                select(DigestRow).where(DigestRow.digest == digest, DigestRow.period == period)
            ).one()
            return Claim(_record(row), mine=taken, new=new)

    def _set(self, send_id: int, **values: object) -> None:
        with self.database.transaction() as session:
            session.execute(update(DigestRow).where(DigestRow.id == send_id).values(**values))

    def lead_posted(self, send_id: int, ts: str) -> None:
        self._set(send_id, lead_ts=ts)

    def part_posted(self, send_id: int, parts_done: int) -> None:
        self._set(send_id, parts_done=parts_done)

    def extend(self, send_id: int, lease_until: datetime) -> None:
        """Keep the lease while a long send goes on (each part renews it)."""
        self._set(send_id, lease_until=lease_until)

    def sent(self, send_id: int, now: datetime) -> None:
        self._set(send_id, status=SendStatus.SENT, sent_at=now, lease_until=None, last_error=None)

    def failed(self, send_id: int, error: str, retry_at: datetime) -> None:
        """Leave the row to be taken over at `retry_at`, by this process or another."""
        self._set(send_id, last_error=error[:2000], lease_until=retry_at)

    def given_up(self, send_id: int, error: str) -> None:
        """A newer week is due: this one is never sent (no backlog of old weeks)."""
        self._set(send_id, status=SendStatus.GIVEN_UP, last_error=error[:2000], lease_until=None)

    def unfinished(self, now: datetime) -> list[DigestSend]:
        """Sends still `sending`, whatever their lease (for the scheduler to judge)."""
        with self.database.transaction() as session:
            rows = session.scalars(
                select(DigestRow).where(DigestRow.status == SendStatus.SENDING).order_by(DigestRow.id)
            ).all()
            return [_record(row) for row in rows]
