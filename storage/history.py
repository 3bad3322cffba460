"""Writing a case's history and what it owes Slack, inside the caller's transaction.

Every state change records an event; the Slack side effects it causes (a thread reply, a direct
message) are `deliveries` rows in the same transaction, so a crash never loses one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.domain.vocabulary import DeliveryKind, DeliveryStatus
from storage.models import Case, CaseEvent, Delivery

SYSTEM_ACTOR = "closeloop"  # the actor of events the bot itself causes (reminders, escalations)


def delivery_row(
    kind: DeliveryKind,
    feedback_id: int,
    case_id: int | None,
    event_id: int | None,
    now: datetime,
    *,
    recipient: str | None = None,
) -> dict[str, Any]:
    """A pending delivery's columns, for an ORM object or a Core INSERT (the intake's)."""
    return {
        "kind": kind,
        "feedback_id": feedback_id,
        "case_id": case_id,
        "event_id": event_id,
        "status": DeliveryStatus.PENDING,
        "created_at": now,
        "attempts": 0,
        "recipient": recipient,
    }


def new_delivery(
    kind: DeliveryKind,
    feedback_id: int,
    case_id: int | None,
    event_id: int | None,
    now: datetime,
    *,
    recipient: str | None = None,
) -> Delivery:
    return Delivery(**delivery_row(kind, feedback_id, case_id, event_id, now, recipient=recipient))


def record_event(
    session: Session,
    case: Case,
    actor: str,
    kind: str,
    details: dict[str, Any],
    now: datetime,
    *,
    reply: bool,
) -> CaseEvent:
    """Append to the history; with `reply`, the event is also owed as a reply in the case's thread."""
    event = CaseEvent(case_id=case.id, at=now, actor=actor, kind=kind, details=details)
    session.add(event)
    session.flush()
    if reply:
        session.add(new_delivery(DeliveryKind.THREAD_REPLY, case.feedback_id, case.id, event.id, now))
    return event
