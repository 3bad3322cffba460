"""The promoter path: what people do about a promoter's notice (thank, ask for a review, note a
reference candidate), recorded once per response and action, and when a notice counts as missed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.vocabulary import PromoterAction

# A promoter nobody did anything about within this long after the notice is a missed thank-you.
THANK_YOU_WITHIN = timedelta(days=7)


@dataclass(frozen=True)
class FollowUp:
    """One press on a promoter's notice: the first person to do `action` for this response."""

    action: PromoterAction
    user_id: str
    at: datetime


@dataclass(frozen=True)
class PromoterNotice:
    """A promoter's notice as it stands in Slack (`channel`/`ts` None until it is posted), with
    what the ready-to-send review text needs: the department (for its review link) and the name."""

    feedback_id: int
    department: str
    customer_name: str | None
    channel: str | None
    ts: str | None


@dataclass(frozen=True)
class Pressed:
    """`first` is who did the action first; `new` says whether it was this press."""

    notice: PromoterNotice
    first: FollowUp
    new: bool
