"""The policy's follow-up deadlines: how long each step may take, when the clock runs, who is
reminded and who is escalated to. Part of the policy file (see bot/policy.py)."""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from decimal import Decimal
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from bot.domain.business_time import BusinessHours
from bot.domain.durations import parse_duration
from bot.domain.vocabulary import Category, Priority

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    return parse_duration(value)


Duration = Annotated[timedelta, BeforeValidator(_duration)]


def user_ids(users: list[str]) -> list[str]:
    for user in users:
        if not USER_ID.match(user):
            raise ValueError(
                f"{user!r} is not a Slack user id — use the member id from the person's "
                "profile ('⋮' > 'Copy member ID', it starts with U)"
            )
    return users


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BusinessHoursSpec(_Strict):
    """When a department's SLA clock runs. Outside these hours deadlines do not come closer."""

    timezone: str
    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS[:5]), min_length=1)
    hours: str = "09:00-17:00"
    holidays: list[date] = Field(default_factory=list)

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

    @field_validator("days")
    @classmethod
    def _days(cls, days: list[str]) -> list[str]:
        for day in days:
            if day.lower()[:3] not in WEEKDAYS:
                raise ValueError(f"{day!r} is not a weekday — use mon, tue, wed, thu, fri, sat, sun")
        return days

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        start, end = _window(value)
        if start >= end:
            raise ValueError(
                f"{value!r} ends before it starts — write the earlier time first, e.g. 09:00-17:00"
            )
        return value

    def to_domain(self) -> BusinessHours:
        start, end = _window(self.hours)
        return BusinessHours(
            timezone=self.timezone,
            days=frozenset(WEEKDAYS.index(d.lower()[:3]) for d in self.days),
            start=start,
            end=end,
            holidays=frozenset(self.holidays),
        )


def _window(value: str) -> tuple[time, time]:
    match = HOURS.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a working window — write it as HH:MM-HH:MM, e.g. 09:00-17:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h2 == 24 and m2 == 0:
        h2, m2 = 23, 59  # "until midnight"; one minute short is far inside any SLA's precision
    if not (h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60):
        raise ValueError(f"{value!r} is not a working window — hours run 00-23 and minutes 00-59")
    return time(h1, m1), time(h2, m2)


class PriorityRule(_Strict):
    """Raises the priority of matching cases (never lowers it): every matching rule applies."""

    name: str | None = None
    priority: Priority
    category: list[Category] = Field(default_factory=list)
    segment: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    customer_value_at_least: Decimal | None = None

    @model_validator(mode="after")
    def _has_condition(self) -> Self:
        if not (self.category or self.segment or self.tags or self.customer_value_at_least is not None):
            raise ValueError(
                "a priority rule without conditions raises every case — add category, segment, tags "
                "or customer_value_at_least, or change cases.priority instead"
            )
        return self


class DeadlineRule(_Strict):
    """How long each step may take for the cases it matches; a step left out has no deadline."""

    name: str | None = None
    category: list[Category] = Field(default_factory=list)
    priority: list[Priority] = Field(default_factory=list)
    department: list[str] = Field(default_factory=list)
    segment: list[str] = Field(default_factory=list)
    claim: Duration | None = None
    first_contact: Duration | None = None
    close: Duration | None = None

    @model_validator(mode="after")
    def _has_deadline(self) -> Self:
        steps = [s for s in (self.claim, self.first_contact, self.close) if s is not None]
        if not steps:
            raise ValueError(
                "the rule sets no deadline — give claim, first_contact or close (e.g. close: 3d)"
            )
        if any(s <= timedelta(0) for s in steps):
            raise ValueError("a deadline must be longer than zero — e.g. claim: 1h")
        return self


def _percent(value: Any) -> int:
    text = str(value).strip().removesuffix("%").strip()
    if not text.isdigit() or not 1 <= int(text) <= 99:
        raise ValueError(
            f"{value!r} is not a share of the time — write a percentage from 1% to 99%, e.g. 50%"
        )
    return int(text)


Percent = Annotated[int, BeforeValidator(_percent)]


class SecondLevel(_Strict):
    after: Duration
    notify: list[str] = Field(min_length=1)

    _check_users = field_validator("notify")(user_ids)


class Escalation(_Strict):
    second_level: SecondLevel | None = None
    snooze_choices: list[Duration] = Field(
        default_factory=lambda: [timedelta(hours=1), timedelta(hours=4), timedelta(days=1)],
        min_length=1,
        max_length=10,
    )


class Sla(_Strict):
    sweep_every: Duration = timedelta(seconds=30)
    at_risk_within: Duration = timedelta(hours=2)
    deadlines: list[DeadlineRule] = Field(min_length=1)
    owner_reminders: list[Percent] = Field(default_factory=lambda: [50, 90], max_length=10)
    escalation: Escalation = Field(default_factory=Escalation)

    @field_validator("sweep_every")
    @classmethod
    def _interval(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=1) <= value <= timedelta(hours=1):
            raise ValueError("must be between 1s and 1h — 30s is a good default")
        return value

    @field_validator("owner_reminders")
    @classmethod
    def _sorted(cls, values: list[int]) -> list[int]:
        return sorted(set(values))
