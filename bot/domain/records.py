"""Plain, immutable data passed in and out of storage, so no ORM object escapes a transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

# Feedback fields a re-sent response may change; the order is the order shown in history.
FEEDBACK_FIELDS: tuple[str, ...] = (
    "score",
    "comment",
    "customer_id",
    "customer_name",
    "customer_email",
    "customer_account",
    "customer_segment",
    "customer_value",
    "tags",
    "touchpoint",
    "language",
    "submitted_at",
)


@dataclass(frozen=True)
class FeedbackData:
    """A validated, normalised survey response. `provided` names the fields the sender included,
    so a later partial update never erases what an earlier one said."""

    external_id: str
    survey: str
    score: int
    comment: str | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    customer_email: str | None = None
    customer_account: str | None = None
    customer_segment: str | None = None
    customer_value: Decimal | None = None
    tags: tuple[str, ...] = ()
    touchpoint: str | None = None
    language: str | None = None
    submitted_at: datetime | None = None
    # customer.contact_ok: False means never write to them (bot/domain/outer_loop.py); None: not said.
    contact_ok: bool | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    provided: frozenset[str] = frozenset(FEEDBACK_FIELDS)


@dataclass(frozen=True)
class Triage:
    """What the domain decided about a response: where it goes and whether it becomes a case."""

    category: str
    department: str
    priority: str
    open_case: bool
    notify: bool


@dataclass(frozen=True)
class IntakeOutcome:
    feedback_id: int
    case_id: int | None
    category: str
    department: str
    created: bool
    changed: bool


@dataclass(frozen=True)
class CaseSnapshot:
    """A case joined with its feedback, as read in one transaction."""

    id: int
    version: int
    status: str
    department: str
    category: str
    priority: str
    owner_id: str | None
    created_at: datetime
    claimed_at: datetime | None
    contacted_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None
    outcome: str | None
    contact_channel: str | None
    root_cause: str | None
    remedy: str | None
    close_note: str | None
    customer_informed: bool | None
    claim_due_at: datetime | None
    contact_due_at: datetime | None
    close_due_at: datetime | None
    slack_channel: str | None
    slack_ts: str | None
    message_version: int
    post_attempts: int
    opening_score: int | None  # the score it was opened with; None (older cases): unchanged
    # Where telling the customer stands (vocabulary.FollowUp; None: nothing owed). Keyword-only
    # with a default, so snapshots built before migration 0016 knew of it still build.
    follow_up: str | None = field(default=None, kw_only=True)
    feedback_id: int
    external_id: str
    survey: str
    score: int
    comment: str | None
    customer_id: str | None
    customer_name: str | None
    customer_email: str | None
    customer_account: str | None
    customer_segment: str | None
    customer_value: Decimal | None
    tags: tuple[str, ...]
    touchpoint: str | None
    language: str | None
    submitted_at: datetime | None
    received_at: datetime
    # False: the customer asked not to be contacted (customer.contact_ok at intake); None: not said.
    contact_ok: bool | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class EventRecord:
    id: int
    case_id: int
    at: datetime
    actor: str
    kind: str
    details: dict[str, Any]


@dataclass(frozen=True)
class DeliveryRecord:
    id: int
    kind: str
    case_id: int | None
    feedback_id: int
    event_id: int | None
    attempts: int
    recipient: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class CloseDetails:
    outcome: str
    contact_channel: str
    root_cause: str
    remedy: str
    note: str
    customer_informed: bool
    # The policy's themes the owner picked (None: the form had no theme picker, keep earlier picks).
    themes: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ChangeResult:
    """The result of an attempted state change: `applied` False means nothing was written."""

    applied: bool
    case: CaseSnapshot | None


@dataclass(frozen=True)
class DueDates:
    """When each step of a case is due; None where the policy sets no deadline."""

    claim: datetime | None = None
    first_contact: datetime | None = None
    close: datetime | None = None


@dataclass(frozen=True)
class DeadlineSpec:
    """A reminder or escalation a case's current state calls for (see storage.models.Deadline)."""

    kind: str
    step: str
    level: int
    recipient: str | None
    due_at: datetime

    @property
    def key(self) -> tuple[str, str, int, str | None]:
        return (self.kind, self.step, self.level, self.recipient)


@dataclass(frozen=True)
class DeadlineRecord:
    id: int
    case_id: int
    kind: str
    step: str
    level: int
    recipient: str | None
    due_at: datetime
    status: str
    held: bool
    acknowledged_by: str | None

    @property
    def key(self) -> tuple[str, str, int, str | None]:
        return (self.kind, self.step, self.level, self.recipient)


@dataclass(frozen=True)
class Firing:
    """What the sweep does for one due row: record `event_kind` in the case's history (a thread
    reply when `reply`), send a direct message to each of `recipients`, and, when
    `refresh_message`, re-render the case message (it now shows the case overdue)."""

    deadline_id: int
    event_kind: str
    details: dict[str, Any]
    reply: bool
    recipients: tuple[str, ...] = ()
    dm_kind: str | None = None
    refresh_message: bool = False


@dataclass(frozen=True)
class SweepDecision:
    """For one case's due rows: what to fire, and which rows to drop without a message."""

    fire: tuple[Firing, ...] = ()
    supersede: tuple[int, ...] = ()
    cancel: tuple[int, ...] = ()


@dataclass(frozen=True)
class EarlierResponse:
    """One of the customer's responses before the one a case is about, and its case if it had one."""

    score: int
    received_at: datetime
    case_status: str | None = None
    case_outcome: str | None = None


@dataclass(frozen=True)
class CustomerHistory:
    """What came before from the same customer id, newest first, so the owner of a case sees
    whether this customer has been unhappy (or happy) before. `earlier_count` counts them all;
    `earlier` holds at most the newest few of them."""

    earlier_count: int
    earlier: tuple[EarlierResponse, ...]

    @property
    def ordinal(self) -> int:
        """Which response of the customer's this one is: 1 for the first."""
        return self.earlier_count + 1
