"""Writing a case's history and what it owes Slack, inside the caller's transaction.

Every state change records an event; the Slack side effects it causes (a thread reply, a direct
message) are `deliveries` rows in the same transaction, so a crash never loses one."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, insert, literal_column, select, text
from sqlalchemy.engine import Dialect
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


@dataclass(frozen=True)
class OwedEvent:
    """An event for `record_events`: with `reply`, also owed as a reply in the case's thread; each
    (kind, recipient) of `direct` is a direct message owed about it."""

    case_id: int
    feedback_id: int
    actor: str
    kind: str
    details: dict[str, Any]
    reply: bool
    direct: tuple[tuple[DeliveryKind, str], ...] = ()


def record_events(session: Session, events: Sequence[OwedEvent], now: datetime) -> list[int]:
    """`record_event` for many events at once (the deadline sweep's batches): one INSERT for the
    events and one for their deliveries, however many there are, instead of a flush per event.
    Deliveries keep `record_event`'s order: an event's thread reply, then its direct messages.
    Returns the events' ids, in the order given."""
    if not events:
        return []
    rows = [
        {"case_id": e.case_id, "at": now, "actor": e.actor, "kind": e.kind, "details": e.details}
        for e in events
    ]
    ids = _insert_rows(session, CaseEvent, rows, with_ids=True)
    owed: list[dict[str, Any]] = []
    for event, event_id in zip(events, ids, strict=True):
        if event.reply:
            owed.append(_delivery_row(DeliveryKind.THREAD_REPLY, event, event_id, now, None))
        owed.extend(_delivery_row(kind, event, event_id, now, recipient) for kind, recipient in event.direct)
    if owed:
        _insert_rows(session, Delivery, owed, with_ids=False)
    return ids


def _insert_rows(
    session: Session, model: type[CaseEvent | Delivery], rows: list[dict[str, Any]], *, with_ids: bool
) -> list[int]:
    """One INSERT of `rows` (all with the same keys), in their order; their ids if `with_ids`.

    PostgreSQL: the rows go as one JSON document (`_from_json`), in a statement of a few
    parameters, and ids are drawn in the rows' order, so the sorted RETURNING ids are the rows'
    ids (as SQLAlchemy's own ordered bulk INSERT assumes). SQLite: its one writer holds the
    database from BEGIN IMMEDIATE on, so the ids after the highest are ours and RETURNING, whose
    order SQLite leaves open, is not needed."""
    table = model.__table__
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        statement = insert(model).from_select(list(rows[0]), _from_json(model, rows, dialect))
        if not with_ids:
            session.execute(statement)
            return []
        return sorted(session.scalars(statement.returning(table.c.id)))
    insert_all = insert(model).execution_options(render_nulls=True)  # one statement, NULLs or not
    if not with_ids:
        session.execute(insert_all, rows)
        return []
    first = (session.scalar(select(func.max(table.c.id))) or 0) + 1
    ids = list(range(first, first + len(rows)))
    session.execute(insert_all, [{**row, "id": i} for row, i in zip(rows, ids, strict=True)])
    return ids


def _from_json(
    model: type[CaseEvent | Delivery], rows: list[dict[str, Any]], dialect: Dialect
) -> Select[Any]:
    """The rows as a SELECT over json_to_recordset(one parameter), in their order. A VALUES list
    or arrays of thousands of values cost more to build, escape and parse than the insert itself;
    a value the same in every row (a time, a status) is one parameter of its own column type.
    Values that differ between rows must be JSON values (numbers, text, JSON): json.dumps refuses
    anything else, e.g. a time, rather than guessing its format."""
    table = model.__table__
    names = list(rows[0])
    varying = [name for name in names if any(row[name] != rows[0][name] for row in rows)]
    document = json.dumps(
        [{"position": n, **{name: row[name] for name in varying}} for n, row in enumerate(rows)]
    )
    shape = ", ".join(
        [*(f"{name} {table.c[name].type.compile(dialect)}" for name in varying), "position integer"]
    )
    source = text(f"json_to_recordset(CAST(:rows AS json)) AS r({shape})").bindparams(rows=document)
    picked = [
        literal_column(f"r.{name}")
        if name in varying
        else bindparam(f"row_{name}", rows[0][name], type_=table.c[name].type)
        for name in names
    ]
    return select(*picked).select_from(source).order_by(literal_column("r.position"))


def _delivery_row(
    kind: DeliveryKind, event: OwedEvent, event_id: int, now: datetime, recipient: str | None
) -> dict[str, Any]:
    """`new_delivery`'s columns as a row for a bulk INSERT (every row has every key, so the rows
    go out as one statement)."""
    return {
        "kind": kind,
        "feedback_id": event.feedback_id,
        "case_id": event.case_id,
        "event_id": event_id,
        "status": DeliveryStatus.PENDING,
        "created_at": now,
        "attempts": 0,
        "recipient": recipient,
    }
