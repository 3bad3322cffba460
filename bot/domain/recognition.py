"""Kudos and recognition for closed loops: who may give them, and when the shout-out is edited.

Pure rules; storage keeps the rows, the Slack layer words the refusals (`bot.slack.refusals`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.policy import HasDepartment, Policy

# The shout-out's edit waits this long after a first kudos, so a burst of presses becomes one edit,
REFRESH_DELAY = timedelta(seconds=5)
# and comes at most once per this, whatever the pace of presses (chat.update is ~50/min/workspace).
REFRESH_SPACING = timedelta(minutes=1)
NOTE_MAX = 1000  # a recognition note: one thread reply section (3,000) with room to spare


class Refused(StrEnum):
    """Why a kudos or a recognition was not taken."""

    NOT_ANNOUNCED = "not_announced"  # no shout-out in Slack for this case (yet)
    OWN_LOOP = "own_loop"  # the closer cannot applaud themselves
    NOT_A_LEADER = "not_a_leader"  # only the department's managers and recognition.leaders


@dataclass(frozen=True)
class Shoutout:
    """The closed-loop announcement as posted: where it is, who closed the loop, about which close."""

    case_id: int
    department: str
    channel: str
    ts: str
    closer: str
    event_id: int


@dataclass(frozen=True)
class Applause:
    """What a shout-out shows besides itself: who gave kudos (in order) and how many recognitions."""

    kudos: tuple[str, ...] = ()
    recognitions: int = 0


@dataclass(frozen=True)
class Department:
    """The department a shout-out's case belongs to, as `Policy.department_of` needs it."""

    department: str


def kudos_refusal(shoutout: Shoutout | None, user: str) -> Refused | None:
    if shoutout is None:
        return Refused.NOT_ANNOUNCED
    if user == shoutout.closer:
        return Refused.OWN_LOOP
    return None


def recognition_refusal(policy: Policy, shoutout: Shoutout | None, user: str) -> Refused | None:
    """Managers of the case's department and `recognition.leaders` recognise; the closer may not
    recognise their own loop even when a leader."""
    if shoutout is None:
        return Refused.NOT_ANNOUNCED
    case: HasDepartment = Department(shoutout.department)
    if not policy.may_recognise(case, user):
        return Refused.NOT_A_LEADER
    if user == shoutout.closer:
        return Refused.OWN_LOOP
    return None


def refresh_due(now: datetime, last_sent: datetime | None) -> datetime:
    """When the shout-out's next edit goes: a little after the first press, then at most once per
    `REFRESH_SPACING`, so presses in between share one edit."""
    due = now + REFRESH_DELAY
    if last_sent is not None:
        due = max(due, last_sent + REFRESH_SPACING)
    return due
