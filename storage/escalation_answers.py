"""Sharing an escalation's answer with everyone else who was asked.

When one manager acknowledges, snoozes or reassigns, the escalation's other direct messages
(other managers, the second level, earlier pings) still show live buttons. Each of them becomes
an owed edit, a `deliveries` row of kind ANSWERED_DM, so the outbox makes them at Slack's pace
for edits and a crash loses none. Where each edit goes is written in one ANSWER_SHARED event
(keyed by delivery id), which is the history's note that the others were told."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.domain.vocabulary import DeliveryKind, DeliveryStatus, EventKind
from storage.db import Database
from storage.history import new_delivery, record_event
from storage.models import Case, CaseEvent, Delivery

ANSWERED_BEFORE_SENT = "the escalation was answered before this could be sent"


class EscalationAnswers:
    def __init__(self, database: Database) -> None:
        self.database = database

    def share(
        self,
        case_id: int,
        step: str,
        by: str,
        answer: dict[str, Any],
        now: datetime,
        *,
        answered_in: tuple[str, str] | None = None,
    ) -> int:
        """Owe an edit of every sent escalation DM about `step` but the one answered from
        (`answered_in`, edited by the listener at once); an escalation DM still unsent is not sent
        any more. `answer` says how it was answered (the renderer words it). Returns the edits owed."""
        with self.database.transaction() as session:
            case = session.get(Case, case_id)
            if case is None:
                return 0
            rows = session.execute(
                select(Delivery, CaseEvent.details)
                .join(CaseEvent, CaseEvent.id == Delivery.event_id)
                .where(
                    Delivery.case_id == case_id,
                    Delivery.kind == DeliveryKind.ESCALATION_DM,
                    CaseEvent.kind == EventKind.ESCALATED,
                )
                .order_by(Delivery.id)
                .with_for_update(of=Delivery)
            ).all()
            asked = [dm for dm, details in rows if (details or {}).get("step") == step]
            for dm in asked:
                if dm.status == DeliveryStatus.PENDING:
                    dm.status, dm.last_error = DeliveryStatus.SKIPPED, ANSWERED_BEFORE_SENT
            shown = [
                dm
                for dm in asked
                if dm.status == DeliveryStatus.SENT
                and dm.slack_channel
                and dm.slack_ts
                and (dm.slack_channel, dm.slack_ts) != answered_in
            ]
            if not shown:
                return 0
            edits = [
                new_delivery(
                    DeliveryKind.ANSWERED_DM, case.feedback_id, case.id, None, now, recipient=dm.recipient
                )
                for dm in shown
            ]
            session.add_all(edits)
            session.flush()  # the edits' ids key the event's details; the event row is written once
            messages = {
                str(edit.id): [dm.slack_channel, dm.slack_ts] for edit, dm in zip(edits, shown, strict=True)
            }
            details = {"step": step, **answer, "messages": messages}
            event = record_event(session, case, by, EventKind.ANSWER_SHARED, details, now, reply=False)
            for edit in edits:
                edit.event_id = event.id
            return len(edits)
