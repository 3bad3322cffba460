"""Outbound case events: the policy's `webhooks` section, the events a CRM can mirror, their
payload, and when a failed delivery is tried again or given up.

Each receiver is named in the policy with the events and departments it wants; its signing
secret stays in the environment (`secret_env` names the variable), so the policy file can be
shared and committed. Delivery itself (signing per Standard Webhooks, the outbox) is the outer
layers' job; this module only decides what is owed and when.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime, timedelta
from typing import Any, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.domain.deadline_policy import Duration
from bot.domain.vocabulary import EventKind

# The history's events a receiver can subscribe to, by their webhook name.
EVENT_TYPES: dict[str, str] = {
    EventKind.CREATED: "case.opened",
    EventKind.CLAIMED: "case.claimed",
    EventKind.CONTACT_LOGGED: "case.contacted",
    EventKind.CLOSED: "case.closed",
    EventKind.ESCALATED: "case.escalated",
    EventKind.REOPENED: "case.reopened",
    EventKind.REASSIGNED: "case.handed_over",
}
WEBHOOK_EVENTS: tuple[str, ...] = tuple(EVENT_TYPES.values())
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,99}$")
WEBHOOK_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,59}$")
MIN_KEY_BYTES = 16
SECRET_HELP = (
    "a Standard Webhooks secret, 'whsec_' and the base64 of 24+ random bytes (e.g. from: python -c "
    "'import base64, secrets; print(\"whsec_\" + base64.b64encode(secrets.token_bytes(32)).decode())'), "
    "the same one the receiver verifies with"
)

# Retries: 30 s, 1 min, 2 min, … doubling up to an hour between tries, for at most 15 tries or
# two days, whichever comes first (a receiver down for a weekend still gets everything).
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=1)
MAX_ATTEMPTS = 15
GIVE_UP_AFTER = timedelta(days=2)
TIMEOUT = timedelta(seconds=10)
# A receiver whose event failed this many tries in a row is worth an admin's look (once a day).
ALERT_AFTER_ATTEMPTS = 3


def secret_problem(value: str) -> str | None:
    """What is wrong with a Standard Webhooks secret's form, if anything (never showing it): the
    outbound webhooks' secrets and the intake's own (bot.settings) are checked alike."""
    if any(character.isspace() for character in value):
        return "contains a space or a line break — paste it again as one word"
    if not value.startswith("whsec_"):
        return "does not start with 'whsec_' (a Standard Webhooks secret)"
    encoded = value.removeprefix("whsec_")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return "is not base64 after 'whsec_' (copy the whole secret again)"
    if len(key) < MIN_KEY_BYTES:
        return f"holds a {len(key)}-byte key, fewer than {MIN_KEY_BYTES}"
    return None


class CaseWebhook(BaseModel):
    """One receiver: where, which events of which departments, and how hard to try."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    secret_env: str
    # Left out: every event, every department.
    events: list[str] = Field(default_factory=lambda: list(WEBHOOK_EVENTS))
    departments: list[str] = Field(default_factory=list)
    # Names the receiver in alerts and in the outbox's rows; defaults to the URL's host and path.
    name: str | None = None
    max_attempts: int = Field(default=MAX_ATTEMPTS, ge=1, le=100)
    give_up_after: Duration = GIVE_UP_AFTER
    timeout: Duration = TIMEOUT
    # The pause after the first failed try, doubled after each further one up to `max_retry`.
    first_retry: Duration = FIRST_RETRY
    max_retry: Duration = MAX_RETRY

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        local = parts.hostname in LOCAL_HOSTS
        if parts.scheme != "https" and not (parts.scheme == "http" and local):
            raise ValueError(
                f"{value!r} is not an https URL — case events carry customer data, so use "
                "https://… (plain http only for localhost, to test a receiver)"
            )
        if not parts.hostname or parts.username or parts.password or parts.fragment:
            raise ValueError(
                f"{value!r} is not a receiver's address — write https://host/path, with no user, "
                "password or #fragment (the signature authenticates closeloop)"
            )
        return value.strip()

    @field_validator("secret_env")
    @classmethod
    def _secret_env(cls, value: str) -> str:
        if value.startswith("whsec_"):
            raise ValueError(
                "this looks like the secret itself — keep it out of the policy file: put it in an "
                "environment variable (e.g. CLOSELOOP_CRM_WEBHOOK_SECRET) and write that variable's name here"
            )
        if not ENV_NAME.match(value):
            raise ValueError(
                f"{value!r} is not an environment variable name — use capitals, digits and _, "
                "e.g. CLOSELOOP_CRM_WEBHOOK_SECRET"
            )
        return value

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        unknown = [event for event in value if event not in WEBHOOK_EVENTS]
        if unknown:
            verb = "is not an event" if len(unknown) == 1 else "are not events"
            raise ValueError(
                f"{', '.join(repr(e) for e in unknown)} {verb} closeloop sends — use some of: "
                + ", ".join(WEBHOOK_EVENTS)
            )
        if not value:
            raise ValueError("empty — list the events to send, or leave events out for all of them")
        return list(dict.fromkeys(value))

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not WEBHOOK_NAME.match(value):
            raise ValueError(
                f"{value!r} is not a name — use lower-case letters, digits, '.', '_' or '-' "
                "(up to 60), e.g. crm"
            )
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0) or value > timedelta(seconds=60):
            raise ValueError("must be more than 0s and at most 60s, e.g. 10s")
        return value

    @field_validator("give_up_after")
    @classmethod
    def _give_up_after(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=1):
            raise ValueError("must be at least 1m, e.g. 2d")
        return value

    @field_validator("first_retry")
    @classmethod
    def _first_retry(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("must be at least 1s, e.g. 30s")
        return value

    @model_validator(mode="after")
    def _cap(self) -> Self:
        if self.max_retry < self.first_retry:
            raise ValueError("max_retry: shorter than first_retry — make it at least as long, e.g. 1h")
        return self

    @property
    def key(self) -> str:
        """The receiver's name in rows and alerts (its own, or its host and path)."""
        if self.name is not None:
            return self.name
        parts = urlsplit(self.url)
        return f"{parts.netloc}{parts.path}"[:60]

    def wants(self, event_type: str, department: str) -> bool:
        return event_type in self.events and (not self.departments or department in self.departments)

    def retry_at(self, attempts: int, first_tried: datetime, now: datetime) -> datetime | None:
        """When to try again after `attempts` failed tries, or None to give up."""
        if attempts >= self.max_attempts or now - first_tried >= self.give_up_after:
            return None
        return now + retry_delay(attempts, self.first_retry, self.max_retry)


def retry_delay(attempts: int, first: timedelta = FIRST_RETRY, cap: timedelta = MAX_RETRY) -> timedelta:
    """`first` after the first failure, doubling after each further one, never more than `cap`."""
    return min(cap, first * (2 ** max(0, min(attempts - 1, 30))))


def webhook_problems(webhooks: list[CaseWebhook], departments: list[str]) -> list[str]:
    """Cross-checks the policy model runs: known departments, one name per receiver."""
    problems = []
    for index, webhook in enumerate(webhooks):
        for name in webhook.departments:
            if name not in departments:
                problems.append(
                    f"webhooks[{index}].departments: {name!r} is not a department — use one of: "
                    + ", ".join(departments)
                )
    keys = [w.key for w in webhooks]
    for index, webhook in enumerate(webhooks):
        if keys.count(webhook.key) > 1 and keys.index(webhook.key) != index:
            problems.append(
                f"webhooks[{index}].name: {webhook.key!r} names two receivers — give each its own name"
            )
    return problems


def receivers_for(webhooks: list[CaseWebhook], event_type: str, department: str) -> list[str]:
    return [w.key for w in webhooks if w.wants(event_type, department)]


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def case_event_payload(
    *,
    event_type: str,
    event_id: str,
    sequence: int,
    at: datetime,
    actor: str,
    details: dict[str, Any],
    case: dict[str, Any],
    feedback: dict[str, Any],
) -> dict[str, Any]:
    """The body of one event, per Standard Webhooks' {type, timestamp, data} shape: the event
    and the case as it stood right after it (so a receiver can mirror from the last one alone).
    `sequence` grows with every event of a case: a receiver orders by it."""
    return {
        "type": event_type,
        "timestamp": _time(at),
        "data": {
            "event_id": event_id,
            "sequence": sequence,
            "actor": actor,
            "details": details,
            "case": {
                "id": case["id"],
                "version": case["version"],
                "status": case["status"],
                "department": case["department"],
                "category": case["category"],
                "priority": case["priority"],
                "owner": case["owner_id"],
                "opened_at": _time(case["created_at"]),
                "claimed_at": _time(case["claimed_at"]),
                "contacted_at": _time(case["contacted_at"]),
                "closed_at": _time(case["closed_at"]),
                "closed_by": case["closed_by"],
                "outcome": case["outcome"],
                "root_cause": case["root_cause"],
                "remedy": case["remedy"],
                "customer_informed": case["customer_informed"],
            },
            "response": {
                "id": feedback["external_id"],
                "survey": feedback["survey"],
                "score": feedback["score"],
                "comment": feedback["comment"],
                "submitted_at": _time(feedback["submitted_at"]),
            },
            "customer": {
                "id": feedback["customer_id"],
                "name": feedback["customer_name"],
                "email": feedback["customer_email"],
                "account": feedback["customer_account"],
                "segment": feedback["customer_segment"],
            },
        },
    }
