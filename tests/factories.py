"""Small builders for test data, so each test states only what matters to it."""

from __future__ import annotations

from typing import Any

from bot.intake import parse_feedback, triage
from bot.policy import Policy
from storage.records import FeedbackData, Triage


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


def feedback_and_triage(policy: Policy, **overrides: Any) -> tuple[FeedbackData, Triage]:
    data = parse_feedback(payload(**overrides))
    return data, triage(policy, data)
