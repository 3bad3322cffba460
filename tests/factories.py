"""Small builders for test data, so each test states only what matters to it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bot.app.intake import parse_feedback, triage
from bot.domain.policy import Policy
from bot.domain.records import CaseSnapshot, FeedbackData, Triage

# A complete, valid answer to the Close loop form (override "note" etc. where a test cares).
CLOSE_FORM = {
    "outcome": "resolved",
    "contact_channel": "phone",
    "root_cause": "Product bug",
    "remedy": "Workaround given",
    "note": "Called Dana, shared the workaround.",
    "customer_informed": "yes",
}


def payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "resp-1",
        "survey": "nps",
        "score": 3,
        "comment": "The export keeps failing and nobody answers my tickets.",
        "customer": {
            "id": "cus-9",
            "name": "Dana Scully",
            "email": "dana@example.com",
            "account": "Acme Corp",
            "segment": "enterprise",
            "value": 48000,
        },
        "tags": ["export"],
        "touchpoint": "support",
        "language": "en",
        "submitted_at": "2026-11-23T08:55:00Z",
    }
    body.update(overrides)
    return body


def feedback_and_triage(
    policy: Policy, **overrides: Any
) -> tuple[FeedbackData, Callable[[FeedbackData], Triage]]:
    """A parsed response and the domain's triage, as the intake hands them to storage."""
    return parse_feedback(payload(**overrides)), lambda merged: triage(policy, merged)


def case_snapshot(**changes: Any) -> CaseSnapshot:
    """A new, unclaimed detractor case of support, for tests of pure rules and rendering."""
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    values: dict[str, Any] = {
        "id": 1,
        "version": 1,
        "status": "new",
        "department": "support",
        "category": "detractor",
        "priority": "high",
        "owner_id": None,
        "created_at": now,
        "claimed_at": None,
        "contacted_at": None,
        "closed_at": None,
        "closed_by": None,
        "outcome": None,
        "contact_channel": None,
        "root_cause": None,
        "remedy": None,
        "close_note": None,
        "customer_informed": None,
        "claim_due_at": None,
        "contact_due_at": None,
        "close_due_at": None,
        "slack_channel": "C0SUPPORT",
        "slack_ts": "1.000100",
        "message_version": 1,
        "post_attempts": 1,
        "opening_score": None,
        "feedback_id": 1,
        "external_id": "resp-1",
        "survey": "nps",
        "score": 3,
        "comment": "The export keeps failing.",
        "customer_id": "cus-9",
        "customer_name": "Dana Scully",
        "customer_email": "dana@example.com",
        "customer_account": "Acme Corp",
        "customer_segment": "smb",
        "customer_value": None,
        "tags": (),
        "touchpoint": "support",
        "language": "en",
        "submitted_at": None,
        "received_at": now,
    }
    values.update(changes)
    return CaseSnapshot(**values)
