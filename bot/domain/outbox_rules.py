"""What the outbox must re-check when a delivery finally goes: it may have waited out an outage,
a backoff or a busy channel, and the case may have moved on meanwhile."""

from __future__ import annotations

from bot.domain.deadlines import open_steps
from bot.domain.records import CaseSnapshot, DeliveryRecord, EventRecord
from bot.domain.vocabulary import CaseStatus, DeliveryKind


def moot_reason(delivery: DeliveryRecord, event: EventRecord, case: CaseSnapshot) -> str | None:
    """Why a direct message no longer makes sense at the moment of sending; None if it still does.

    A reminder or hand-over for someone who no longer owns the case, or an escalation of a step
    already done, would only confuse its reader."""
    if case.status == CaseStatus.CLOSED:
        return "the case was closed before this could be sent"
    if delivery.kind == DeliveryKind.ESCALATION_DM and event.details.get("step") not in open_steps(case):
        return "the step was done before this could be sent"
    if (
        delivery.kind in (DeliveryKind.REMINDER_DM, DeliveryKind.ASSIGNED_DM)
        and case.owner_id != delivery.recipient
    ):
        return "the case has another owner now"
    return None
