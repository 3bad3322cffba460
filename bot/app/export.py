"""What `closeloop export` writes per response: storage's row turned into named columns, with
each step's deadline judged met, missed, pending or none."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from bot.domain.vocabulary import CaseStatus
from storage.themes import split_themes

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
    "themes",
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


# Storage's column names where the export says them otherwise; the rest are written as named.
_RENAMED = {"feedback_id": "response_id", "case_id": "case_id", "case_owner_id": "owner"}
# Each step with a deadline: its name in the export, its due column and its done column.
_STEPS = (
    ("claim", "case_claim_due_at", "case_claimed_at"),
    ("first_contact", "case_contact_due_at", "case_contacted_at"),
    ("close", "case_close_due_at", "case_closed_at"),
)
_DUE_COLUMNS = frozenset(due for _, due, _ in _STEPS)


def record(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """One output record from one `storage.export` row (plain values; formatting is the writer's)."""
    values: dict[str, Any] = {}
    for key, value in row.items():
        if key not in _DUE_COLUMNS:
            values[_RENAMED.get(key, key.removeprefix("feedback_").removeprefix("case_"))] = value
    values["tags"] = list(values["tags"] or ())
    values["themes"] = split_themes(values["themes"])  # theme keys, sorted (storage.themes)
    closed = row["case_status"] == CaseStatus.CLOSED
    for step, due_key, done_key in _STEPS:
        due = row[due_key]
        values[f"{step}_due_at"] = due
        values[f"{step}_deadline"] = deadline_state(due, row[done_key], closed, now)
    return {name: values[name] for name in COLUMNS}


def records(rows: Iterable[dict[str, Any]], now: datetime) -> Iterator[dict[str, Any]]:
    """Lazily, so the stream stays a stream."""
    return (record(row, now) for row in rows)
