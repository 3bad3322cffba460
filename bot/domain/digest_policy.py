"""The policy's weekly digest: when it goes out, in which time zone, and where.

A digest covers one calendar week, Monday 00:00 to Monday 00:00 in the digest's time zone, and
is due at `day` and `time` of the week after. Either one digest for everyone (`channel`), or one
per department in each department's own channel (`per_department: true`), or both.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
CLOCK_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")
WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
EVERYONE = "all"  # the key of the digest for every department


class DigestPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    day: str = "mon"
    time: str = "09:00"
    timezone: str = "UTC"
    channel: str | None = None
    per_department: bool = False

    @field_validator("day")
    @classmethod
    def _day(cls, value: str) -> str:
        day = value.strip().lower()
        full = {name.lower(): WEEKDAYS[i] for i, name in enumerate(calendar.day_name)}
        if day not in WEEKDAYS and day not in full:
            raise ValueError(f"{value!r} is not a weekday — use one of: {', '.join(WEEKDAYS)}")
        return full.get(day, day)

    @field_validator("time", mode="before")
    @classmethod
    def _time(cls, value: object) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML reads an unquoted 09:00 as 540 (minutes, base 60): turn it back
            value = f"{value // 60:02d}:{value % 60:02d}"
        if not isinstance(value, str):
            raise ValueError(f'{value!r} is not a time of day — write it as HH:MM in quotes, e.g. "09:00"')
        match = CLOCK_TIME.match(value)
        if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
            raise ValueError(
                f'{value!r} is not a time of day — write it as HH:MM (00:00-23:59), e.g. "09:00"'
            )
        return f"{int(match.group(1)):02d}:{match.group(2)}"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a time zone — use an IANA name such as Europe/Berlin or America/New_York"
            ) from None
        return value

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is not None and not CHANNEL_ID.match(value):
            raise ValueError(
                f"{value!r} is not a Slack channel id — open the channel in Slack, "
                "'View channel details', and copy the id at the bottom (it starts with C)"
            )
        return value

    @model_validator(mode="after")
    def _somewhere(self) -> Self:
        if self.channel is None and not self.per_department:
            raise ValueError(
                "the digest goes nowhere — set channel: C… (one digest for everyone) "
                "and/or per_department: true (each department's digest in its own channel)"
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def clock_time(self) -> time:
        hours, minutes = self.time.split(":")
        return time(int(hours), int(minutes))


def week_start(day: date) -> date:
    """The Monday of `day`'s ISO week."""
    return day - timedelta(days=day.weekday())


def week_label(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def parse_week(label: str) -> date | None:
    """`2026-W48` as its Monday; None when it is not an ISO week."""
    match = WEEK.match(label.strip())
    if not match:
        return None
    try:
        return date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        return None


def week_bounds(policy: DigestPolicy, monday: date) -> tuple[datetime, datetime]:
    """[Monday 00:00, next Monday 00:00) in the digest's zone, as UTC datetimes."""
    zone = policy.zone
    start = datetime.combine(monday, time(), tzinfo=zone)
    end = datetime.combine(monday + timedelta(days=7), time(), tzinfo=zone)
    # in UTC: subtracting two times of one zone would ignore a DST change between them
    return start.astimezone(UTC), end.astimezone(UTC)


def due_at(policy: DigestPolicy, monday: date) -> datetime:
    """When the digest of the week starting `monday` is due: `day` and `time` of the week after."""
    day = monday + timedelta(days=7 + WEEKDAYS.index(policy.day))
    return datetime.combine(day, policy.clock_time, tzinfo=policy.zone)


def latest_due_week(policy: DigestPolicy, now: datetime) -> date:
    """The Monday of the newest week whose digest is due at `now`. Only that one is ever sent: a
    week missed while the bot was down goes out late but once, and an older one never does."""
    this_monday = week_start(now.astimezone(policy.zone).date())
    last_week = this_monday - timedelta(days=7)
    return last_week if due_at(policy, last_week) <= now else last_week - timedelta(days=7)


def last_finished_week(policy: DigestPolicy, now: datetime) -> date:
    """The Monday of the newest week that is over at `now` (what a preview shows by default)."""
    return week_start(now.astimezone(policy.zone).date()) - timedelta(days=7)
