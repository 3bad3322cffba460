"""Where a weekly digest's send is: one row per (digest, period), read back as this record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class SendStatus(StrEnum):
    SENDING = "sending"
    SENT = "sent"
    GIVEN_UP = "given_up"  # a newer week became due before this one could be sent


@dataclass(frozen=True)
class DigestSend:
    """A digest's row: one per (digest, period)."""

    id: int
    digest: str
    period: str
    channel: str
    status: SendStatus
    lease_until: datetime | None
    attempts: int
    lead_ts: str | None
    parts_done: int
    created_at: datetime
    sent_at: datetime | None
    sent_by: str
    last_error: str | None
