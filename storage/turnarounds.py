"""Recording a detractor won back, inside the intake's transaction.

The `turnarounds` row is unique per earlier case and inserted with ON CONFLICT DO NOTHING: of
two processes (or two sends) that see the same promoter score, exactly one inserts it, and only
that one writes the event and queues the celebration. So each turnaround is announced once.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Insert, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bot.domain.turnarounds import SYSTEM_CLOSER, followed_up_at
from bot.domain.vocabulary import CaseStatus, Category, DeliveryKind, DeliveryStatus, EventKind
from storage.models import Case, CaseEvent, Delivery, Feedback, TurnaroundRow

TURNAROUNDS = TurnaroundRow.__table__
_INSERT_EVENT = insert(CaseEvent.__table__).returning(CaseEvent.__table__.c.id)
_INSERT_DELIVERY = insert(Delivery.__table__)


@cache
def _insert_once(dialect: str) -> Insert:
    dialect_insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    return (
        dialect_insert(TURNAROUNDS)
        .on_conflict_do_nothing(index_elements=[TURNAROUNDS.c.earlier_case_id])
        .returning(TURNAROUNDS.c.id)
    )


def earlier_followed_up_detractor(
    connection: Connection, *, customer_id: str, survey: str, later_feedback_id: int
) -> dict[str, Any] | None:
    """The customer's most recently closed detractor case that a person followed up (same survey,
    so the two scores compare), from another response than the promoter one; None if none."""
    row = connection.execute(
        select(Case.id, Case.owner_id, Case.contacted_at, Case.closed_at, Feedback.score)
        .join(Feedback, Feedback.id == Case.feedback_id)
        .where(
            Feedback.customer_id == customer_id,
            Feedback.survey == survey,
            Feedback.id != later_feedback_id,
            Case.category == Category.DETRACTOR,
            Case.status == CaseStatus.CLOSED,
            Case.owner_id.is_not(None),
        )
        .order_by(Case.closed_at.desc(), Case.id.desc())
        .limit(1)
    ).first()
    return None if row is None else dict(row._mapping)


def record_turnaround(
    connection: Connection,
    *,
    earlier_case_id: int,
    owner_id: str,
    later_feedback_id: int,
    from_score: int,
    to_score: int,
    contacted_at: datetime | None,
    closed_at: datetime | None,
    now: datetime,
    later_case_id: int | None = None,
    announce: bool = True,
) -> bool:
    """Count the earlier case as won back for its owner, once. Only the inserter records the
    event on the earlier case and, with `announce`, queues the celebration. True if inserted."""
    inserted = connection.execute(
        _insert_once(connection.dialect.name),
        {
            "earlier_case_id": earlier_case_id,
            "later_feedback_id": later_feedback_id,
            "owner_id": owner_id,
            "from_score": from_score,
            "to_score": to_score,
            "at": now,
        },
    ).scalar()
    if inserted is None:
        return False
    details = {
        "owner": owner_id,
        "from_score": from_score,
        "to_score": to_score,
        "later_feedback_id": later_feedback_id,
        "later_case_id": later_case_id,
        "followed_up_at": followed_up_at(contacted_at, closed_at, now).isoformat(),
    }
    event_id = connection.execute(
        _INSERT_EVENT,
        {
            "case_id": earlier_case_id,
            "at": now,
            "actor": SYSTEM_CLOSER,
            "kind": EventKind.TURNED_AROUND,
            "details": details,
        },
    ).scalar_one()
    if announce:
        connection.execute(
            _INSERT_DELIVERY,
            {
                "kind": DeliveryKind.TURNAROUND,
                "feedback_id": later_feedback_id,
                "case_id": earlier_case_id,
                "event_id": event_id,
                "status": DeliveryStatus.PENDING,
                "created_at": now,
                "attempts": 0,
                "recipient": None,
            },
        )
    return True


def closed_itself_reply(
    connection: Connection, case_id: int, feedback_id: int, event_id: int, now: datetime
) -> None:
    """The thread reply saying an unclaimed case closed itself on its customer's new score."""
    connection.execute(
        _INSERT_DELIVERY,
        {
            "kind": DeliveryKind.CLOSED_ITSELF,
            "feedback_id": feedback_id,
            "case_id": case_id,
            "event_id": event_id,
            "status": DeliveryStatus.PENDING,
            "created_at": now,
            "attempts": 0,
            "recipient": None,
        },
    )


def turnaround_cases(connection: Connection, later_feedback_id: int) -> list[int]:
    """The earlier cases a promoter response turned around (at most one in practice): the
    outbox is nudged for them, since their celebration is owed on the earlier case."""
    query = select(TURNAROUNDS.c.earlier_case_id).where(TURNAROUNDS.c.later_feedback_id == later_feedback_id)
    return list(connection.execute(query).scalars())
