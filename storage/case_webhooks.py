"""The outbox of outbound case events: rows owed to the policy's webhook receivers.

`CaseEventMirror.owe` runs inside the transaction that changes a case, after its event is
written, and adds one row per receiver that wants the event; the row holds the body as it will
be sent. Rows of one case and receiver form a lane, sent oldest first: a lane's head is its
oldest pending row, and only heads are leased, so a later event never overtakes an earlier one
that is still being tried. A change of a case locks the case's row before it writes its event,
so the ids of one case's rows follow the order its changes committed in.

Leasing is one transaction: the heads due now are read with `FOR UPDATE SKIP LOCKED` on
PostgreSQL (SQLite has one writer at a time) and given a lease time, so two workers or
processes never send one row at once; a worker that dies leaves its lease to run out.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from bot.domain.webhooks import EVENT_TYPES, CaseWebhook, case_event_payload, receivers_for
from storage.db import Database
from storage.models import Case, CaseWebhookEvent, Feedback

TABLE = CaseWebhookEvent.__table__
PENDING, SENT, FAILED = "pending", "sent", "failed"


@dataclass(frozen=True)
class MirroredEvent:
    """A case event just written, as the mirror needs it."""

    case_event_id: int
    case_id: int
    kind: str
    actor: str
    details: dict[str, Any]
    at: datetime


@dataclass(frozen=True)
class OwedCall:
    """A leased row: what to send, to whom, and the lease that fences its outcome."""

    id: int
    event_id: str
    case_id: int
    receiver: str
    event_type: str
    payload: str
    attempts: int
    created_at: datetime
    lease_until: datetime


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


class CaseEventMirror:
    """Writes the rows the policy's receivers are owed; a policy without webhooks writes none
    and reads nothing, so the intake pays nothing for it."""

    def __init__(self, webhooks: Sequence[CaseWebhook], make_id: Callable[[], str] = new_event_id) -> None:
        self.webhooks = list(webhooks)
        self.make_id = make_id

    def owe(self, connection: Connection, events: Sequence[MirroredEvent], now: datetime) -> int:
        """Inside the caller's transaction, after the case change and its events are written (and
        flushed): one row per event and receiver that wants it. Returns how many."""
        mirrored = [e for e in events if e.kind in EVENT_TYPES]
        if not self.webhooks or not mirrored:
            return 0
        case_ids = sorted({e.case_id for e in mirrored})
        rows = connection.execute(
            select(Case.__table__, Feedback.__table__)
            .join(Feedback.__table__, Feedback.id == Case.feedback_id)
            .where(Case.id.in_(case_ids))
        )
        cases: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
        case_keys = [c.key for c in Case.__table__.columns]
        feedback_keys = [c.key for c in Feedback.__table__.columns]
        for row in rows:
            values = list(row)
            case = dict(zip(case_keys, values[: len(case_keys)], strict=True))
            feedback = dict(zip(feedback_keys, values[len(case_keys) :], strict=True))
            cases[case["id"]] = (case, feedback)
        owed: list[dict[str, Any]] = []
        for event in sorted(mirrored, key=lambda e: e.case_event_id):
            if event.case_id not in cases:
                continue
            case, feedback = cases[event.case_id]
            event_type = EVENT_TYPES[event.kind]
            receivers = receivers_for(self.webhooks, event_type, case["department"])
            if not receivers:
                continue
            event_id = self.make_id()
            body = case_event_payload(
                event_type=event_type,
                event_id=event_id,
                sequence=event.case_event_id,
                at=event.at,
                actor=event.actor,
                details=event.details,
                case=case,
                feedback=feedback,
            )
            payload = json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)
            owed.extend(
                {
                    "event_id": event_id,
                    "case_id": event.case_id,
                    "case_event_id": event.case_event_id,
                    "receiver": receiver,
                    "event_type": event_type,
                    "payload": payload,
                    "status": PENDING,
                    "created_at": now,
                    "attempts": 0,
                }
                for receiver in receivers
            )
        if owed:
            connection.execute(insert(TABLE), owed)
        return len(owed)


def _free(now: datetime) -> Any:
    return or_(TABLE.c.lease_until.is_(None), TABLE.c.lease_until < now)


class CaseWebhookStore:
    """The sender's side: lease the lanes' heads, record each try's outcome."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def lease_heads(
        self, receivers: Sequence[str], now: datetime, seconds: float, limit: int = 20
    ) -> list[OwedCall]:
        """The oldest pending row of each lane (case, receiver) that may be tried now, leased until
        `now + seconds`; a lane whose head waits (leased, backing off) gives nothing."""
        if not receivers:
            return []
        earlier = TABLE.alias("earlier")
        blocked = (
            select(earlier.c.id)
            .where(
                earlier.c.case_id == TABLE.c.case_id,
                earlier.c.receiver == TABLE.c.receiver,
                earlier.c.status == PENDING,
                earlier.c.id < TABLE.c.id,
            )
            .exists()
        )
        heads = (
            select(TABLE)
            .where(
                TABLE.c.status == PENDING,
                TABLE.c.receiver.in_(sorted(receivers)),
                or_(TABLE.c.retry_at.is_(None), TABLE.c.retry_at <= now),
                _free(now),
                ~blocked,
            )
            .order_by(TABLE.c.id)
            .limit(limit)
            .with_for_update(of=TABLE, skip_locked=True)
        )
        until = now + timedelta(seconds=seconds)
        with self.database.connection() as connection:
            rows = list(connection.execute(heads).mappings())
            if not rows:
                return []
            connection.execute(
                update(TABLE).where(TABLE.c.id.in_([r["id"] for r in rows])).values(lease_until=until)
            )
        return [
            OwedCall(
                id=r["id"],
                event_id=r["event_id"],
                case_id=r["case_id"],
                receiver=r["receiver"],
                event_type=r["event_type"],
                payload=r["payload"],
                attempts=r["attempts"],
                created_at=r["created_at"],
                lease_until=until,
            )
            for r in rows
        ]

    def mark_sent(self, row_id: int, now: datetime) -> None:
        """Delivered: whoever holds the lease now, the receiver has it (a late worker's resend of
        a row already marked is harmless too: same event id)."""
        with self.database.connection() as connection:
            connection.execute(
                update(TABLE)
                .where(TABLE.c.id == row_id, TABLE.c.status == PENDING)
                .values(
                    status=SENT, sent_at=now, lease_until=None, attempts=TABLE.c.attempts + 1, last_error=None
                )
            )

    def mark_failed(self, row_id: int, error: str, *, ours: datetime, retry_at: datetime | None) -> bool:
        """A failed try: again at `retry_at`, or given up (None) so the lane moves on. Only under
        our lease: a worker that lost it leaves the row to its new holder. True when recorded."""
        values: dict[str, Any] = {
            "attempts": TABLE.c.attempts + 1,
            "last_error": error[:500],
            "lease_until": None,
            "retry_at": retry_at,
        }
        if retry_at is None:
            values["status"] = FAILED
        with self.database.connection() as connection:
            result = connection.execute(
                update(TABLE)
                .where(TABLE.c.id == row_id, TABLE.c.status == PENDING, TABLE.c.lease_until == ours)
                .values(**values)
            )
            return result.rowcount == 1

    def calls(self, case_id: int | None = None) -> list[dict[str, Any]]:
        """Every row (of one case), oldest first: for tests and the admin's questions."""
        query = select(TABLE).order_by(TABLE.c.id)
        if case_id is not None:
            query = query.where(TABLE.c.case_id == case_id)
        with self.database.connection() as connection:
            return [dict(r) for r in connection.execute(query).mappings()]

    def problems(self) -> list[tuple[str, str, str, int]]:
        """What is stuck or was given up, for `closeloop check`: (receiver, status, last error, how many)."""
        query = (
            select(TABLE.c.receiver, TABLE.c.status, TABLE.c.last_error, func.count())
            .where(TABLE.c.status.in_((PENDING, FAILED)), TABLE.c.last_error.is_not(None))
            .group_by(TABLE.c.receiver, TABLE.c.status, TABLE.c.last_error)
            .order_by(TABLE.c.receiver)
        )
        with self.database.connection() as connection:
            return [(str(r), str(s), str(e), int(n)) for r, s, e, n in connection.execute(query)]

    def forget_sent(self, before: datetime) -> int:
        """Sent rows older than `before` are history nobody reads: delete them."""
        with self.database.connection() as connection:
            result = connection.execute(
                delete(TABLE).where(TABLE.c.status == SENT, TABLE.c.created_at < before)
            )
            return int(result.rowcount or 0)
