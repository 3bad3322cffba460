"""What `closeloop export` writes per response: storage's row turned into named columns, with
each step's deadline judged met, missed, pending or none."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from bot.domain.vocabulary import CaseStatus

# The columns, in the order they are written; the README's "Export" section lists them.
COLUMNS: tuple[str, ...] = (
    "response_id",
    "external_id",
    "survey",
    "score",
    "category",
    "received_at",
    "submitted_at",
    "customer_id",
    "customer_name",
    "customer_email",
    "customer_account",
    "customer_segment",
    "touchpoint",
    "language",
    "comment",
    "tags",
    "department",
    "case_id",
    "status",
    "priority",
    "owner",
    "outcome",
    "root_cause",
    "remedy",
    "close_note",
    "customer_informed",
    "contact_channel",
    "created_at",
    "claimed_at",
    "contacted_at",
    "closed_at",
    "claim_due_at",
    "claim_deadline",
    "first_contact_due_at",
    "first_contact_deadline",
    "close_due_at",
    "close_deadline",
)

MET, MISSED, PENDING, NONE = "met", "missed", "pending", "none"


def deadline_state(due: datetime | None, done: datetime | None, closed: bool, now: datetime) -> str:
    """`met` when the step was done at or before it was due; `missed` when done later, or not done
    and due already (as the case message's overdue rule: due <= now), or never done before the case
    closed; `pending` when not done and not yet due; `none` when the policy set no deadline (or no
    case)."""
    if due is None:
        return NONE
    if done is not None:
        return MET if done <= due else MISSED
    return MISSED if closed or due <= now else PENDING


def record(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """One output record from one `storage.export` row (plain values; formatting is the writer's)."""
    closed = row["case_status"] == CaseStatus.CLOSED
    values: dict[str, Any] = {
        "response_id": row["feedback_id"],
        "external_id": row["feedback_external_id"],
        "survey": row["feedback_survey"],
        "score": row["feedback_score"],
        "category": row["feedback_category"],
        "received_at": row["feedback_received_at"],
        "submitted_at": row["feedback_submitted_at"],
        "customer_id": row["feedback_customer_id"],
        "customer_name": row["feedback_customer_name"],
        "customer_email": row["feedback_customer_email"],
        "customer_account": row["feedback_customer_account"],
        "customer_segment": row["feedback_customer_segment"],
        "touchpoint": row["feedback_touchpoint"],
        "language": row["feedback_language"],
        "comment": row["feedback_comment"],
        "tags": list(row["feedback_tags"] or ()),
        "department": row["department"],
        "case_id": row["case_id"],
        "status": row["case_status"],
        "priority": row["case_priority"],
        "owner": row["case_owner_id"],
        "outcome": row["case_outcome"],
        "root_cause": row["case_root_cause"],
        "remedy": row["case_remedy"],
        "close_note": row["case_close_note"],
        "customer_informed": row["case_customer_informed"],
        "contact_channel": row["case_contact_channel"],
        "created_at": row["case_created_at"],
        "claimed_at": row["case_claimed_at"],
        "contacted_at": row["case_contacted_at"],
        "closed_at": row["case_closed_at"],
    }
    for step, due_key, done_key in (
        ("claim", "case_claim_due_at", "case_claimed_at"),
        ("first_contact", "case_contact_due_at", "case_contacted_at"),
        ("close", "case_close_due_at", "case_closed_at"),
    ):
        due = row[due_key]
        values[f"{step}_due_at"] = due
        values[f"{step}_deadline"] = deadline_state(due, row[done_key], closed, now)
    return values


def records(rows: Iterable[dict[str, Any]], now: datetime) -> Iterator[dict[str, Any]]:
    """Lazily, so the stream stays a stream."""
    return (record(row, now) for row in rows)
