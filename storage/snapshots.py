"""Reading cases out of a transaction as plain snapshots, so no ORM object escapes it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from bot.domain.records import CaseSnapshot
from storage.models import Case, Feedback


def snapshot(case: Case, feedback: Feedback) -> CaseSnapshot:
    return CaseSnapshot(
        id=case.id,
        version=case.version,
        status=case.status,
        department=case.department,
        category=case.category,
        priority=case.priority,
        owner_id=case.owner_id,
        created_at=case.created_at,
        claimed_at=case.claimed_at,
        contacted_at=case.contacted_at,
        closed_at=case.closed_at,
        closed_by=case.closed_by,
        outcome=case.outcome,
        contact_channel=case.contact_channel,
        root_cause=case.root_cause,
        remedy=case.remedy,
        close_note=case.close_note,
        customer_informed=case.customer_informed,
        claim_due_at=case.claim_due_at,
        contact_due_at=case.contact_due_at,
        close_due_at=case.close_due_at,
        slack_channel=case.slack_channel,
        slack_ts=case.slack_ts,
        message_version=case.message_version,
        post_attempts=case.post_attempts,
        feedback_id=feedback.id,
        external_id=feedback.external_id,
        survey=feedback.survey,
        score=feedback.score,
        comment=feedback.comment,
        customer_id=feedback.customer_id,
        customer_name=feedback.customer_name,
        customer_email=feedback.customer_email,
        customer_account=feedback.customer_account,
        customer_segment=feedback.customer_segment,
        customer_value=feedback.customer_value,
        tags=tuple(feedback.tags or ()),
        touchpoint=feedback.touchpoint,
        language=feedback.language,
        submitted_at=feedback.submitted_at,
        received_at=feedback.received_at,
    )


def count_and_oldest(
    session: Session, conditions: Sequence[ColumnElement[bool]], limit: int
) -> tuple[int, list[CaseSnapshot]]:
    """How many cases match, and the oldest `limit` of them: lists in Slack are capped, counts not."""
    total = session.scalar(select(func.count()).select_from(Case).where(*conditions)) or 0
    rows = session.execute(
        select(Case, Feedback)
        .join(Feedback, Feedback.id == Case.feedback_id)
        .where(*conditions)
        .order_by(Case.created_at, Case.id)
        .limit(limit)
    )
    return total, [snapshot(case, feedback) for case, feedback in rows]
