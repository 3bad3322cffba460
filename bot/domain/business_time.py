"""SLA clock arithmetic: how much working time lies between two moments, and where a duration ends.

A department's clock runs only inside its business hours: each working day (weekday in `days`,
date not in `holidays`) contributes one window [local start, local end). All arithmetic is done
on real elapsed time in UTC with exact `timedelta`s, so a 00:00–06:00 window lasts 5 hours on a
spring-forward day and 7 on a fall-back day — the customer waited that long, whatever the clocks said.

Turning a window's local wall time into an instant (the only place daylight saving matters):
- a time that exists once is that instant;
- an ambiguous time (fall back, it happens twice) is its first occurrence (PEP 495 fold=0);
- a nonexistent time (spring forward, the clocks skip it) is the moment the clocks jump past it,
  i.e. the first instant after the gap. An office opening at 02:30 when the clocks jump from 02:00
  to 03:00 is open from 03:00; a window lying wholly inside the gap contributes nothing.
This mapping never runs backwards, so every window has start <= end and the windows of
consecutive days never overlap — no minute is counted twice. It also means no window of an earlier
local date reaches a moment of a later one. The converse can happen: where the clocks fall back
across midnight (America/Moncton 1993–2006: Sunday 00:01 back to Saturday 23:01), a moment whose
local date is Saturday can lie in Sunday's window, so lookups also consult the following date.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# A calendar with no working time for ten years is a configuration mistake, not a long SLA:
# refuse it instead of looping forever.
HORIZON_DAYS = 3700

_ONE_DAY = timedelta(days=1)
_ONE_SECOND = timedelta(seconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class BusinessHours:
    """When a department's SLA clock runs: working days, one daily window in local time, holidays."""

    timezone: str  # IANA name, e.g. "Europe/Berlin"
    days: frozenset[int]  # 0 = Monday … 6 = Sunday
    start: time  # local start of the working window (inclusive)
    end: time  # local end of the working window (exclusive); start < end, no overnight windows
    holidays: frozenset[date] = field(default_factory=frozenset)  # local dates with no working time

    def __post_init__(self) -> None:
        # Checked here so a bad calendar fails when the policy loads, not when a deadline is computed.
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"{self.timezone!r} is not an IANA time zone such as Europe/Berlin") from None
        object.__setattr__(self, "days", frozenset(self.days))
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        if not self.days:
            raise ValueError("business hours need at least one working day")
        if not all(isinstance(day, int) and 0 <= day <= 6 for day in self.days):
            raise ValueError(f"working days are numbers 0 (Monday) to 6 (Sunday), got {sorted(self.days)}")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("the working window is local time in `timezone`; give times without tzinfo")
        if not self.start < self.end:
            raise ValueError(f"the working window must start before it ends, got {self.start}–{self.end}")

    @property
    def working_day(self) -> timedelta:
        """The window's length on the wall clock: what one day means on this calendar."""
        return datetime.combine(date.min, self.end) - datetime.combine(date.min, self.start)


def as_working_time(duration: timedelta, hours: BusinessHours | None) -> timedelta:
    """A duration from the policy, in working time: each whole day in it (`1d`, or `24h`) is one
    working day, as an admin who writes "first contact within 1 day" means; the rest counts as
    written. So with 09:00–17:30 hours, `1d` is 8 h 30 min and `1d4h` is 12 h 30 min of work."""
    if hours is None:
        return duration
    days, rest = divmod(duration, _ONE_DAY)
    return days * hours.working_day + rest


def add_working_time(start: datetime, duration: timedelta, hours: BusinessHours | None) -> datetime:
    """The moment `duration` of working time after `start`, in UTC.

    hours=None means the clock always runs: plain addition of elapsed time. A zero duration returns
    `start` itself, even outside working time — nothing has to elapse. Otherwise time outside the
    windows does not count, and a duration that uses up a window exactly ends at that window's end
    (17:00), not at the next window's start: the deadline is the last moment of the working day.
    """
    start = _utc(start, "start")
    if duration < timedelta(0):
        raise ValueError(f"duration must not be negative, got {duration}")
    if hours is None or not duration:
        return start + duration
    remaining = duration
    zone = ZoneInfo(hours.timezone)
    for opens, closes in _windows_from(hours, zone, _local_date(start, zone)):
        if closes <= start:
            continue
        opens = max(opens, start)
        available = closes - opens
        if remaining <= available:
            return opens + remaining
        remaining -= available
    raise AssertionError("unreachable: _windows_from is endless or raises")  # pragma: no cover


def working_time_between(start: datetime, end: datetime, hours: BusinessHours | None) -> timedelta:
    """Working time in [start, end); hours=None counts all of it.

    Zero if end <= start, so asking before a deadline's start never yields a negative amount.
    """
    start, end = _utc(start, "start"), _utc(end, "end")
    if end <= start:
        return timedelta(0)
    if hours is None:
        return end - start
    zone = ZoneInfo(hours.timezone)
    total = timedelta(0)
    day, last = _local_date(start, zone), _local_date(end, zone) + _ONE_DAY
    while day <= last:
        window = _window(hours, zone, day)
        if window is not None:
            opens, closes = max(window[0], start), min(window[1], end)
            if opens < closes:
                total += closes - opens
        day += _ONE_DAY
    return total


def is_working_time(moment: datetime, hours: BusinessHours | None) -> bool:
    """Whether the clock runs at `moment`: a window's start counts as working, its end does not."""
    moment = _utc(moment, "moment")
    if hours is None:
        return True
    zone = ZoneInfo(hours.timezone)
    today = _local_date(moment, zone)
    for day in (today, today + _ONE_DAY):
        window = _window(hours, zone, day)
        if window is not None and window[0] <= moment < window[1]:
            return True
    return False


def _utc(moment: datetime, name: str) -> datetime:
    # A naive datetime could be local or UTC; guessing would shift every deadline by the offset.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def _local_date(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def _windows_from(hours: BusinessHours, zone: ZoneInfo, day: date) -> Iterator[tuple[datetime, datetime]]:
    """Every non-empty window from local date `day` on, in time order; raises on a dead calendar."""
    idle = 0
    while True:
        window = _window(hours, zone, day)
        if window is not None:
            idle = 0
            yield window
        else:
            idle += 1
            if idle >= HORIZON_DAYS:
                raise ValueError(
                    f"no working time in the {HORIZON_DAYS} days up to {day} ({hours.timezone}): "
                    "every working day is a holiday — check the business hours' days and holidays"
                )
        day += _ONE_DAY


@lru_cache(maxsize=4096)  # every deadline plan walks the same few weeks again
def _window(hours: BusinessHours, zone: ZoneInfo, day: date) -> tuple[datetime, datetime] | None:
    """The UTC window of local date `day`, or None if it is no working day or the window is empty."""
    if day.weekday() not in hours.days or day in hours.holidays:
        return None
    opens, closes = _instant(day, hours.start, zone), _instant(day, hours.end, zone)
    return (opens, closes) if opens < closes else None


def _instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant the clocks in `zone` show `wall` on `day` (rules in the module docstring)."""
    local = datetime.combine(day, wall.replace(fold=0), tzinfo=zone)
    first = local.astimezone(UTC)  # fold=0: an ambiguous time's first occurrence
    if first.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return first
    # Nonexistent. fold=0 read it with the offset before the jump (landing after the jump), fold=1 with
    # the offset after (landing before it); the jump lies between. Offsets change on whole seconds.
    before = local.replace(fold=1).astimezone(UTC)
    low = (before - _EPOCH) // _ONE_SECOND
    high = -((_EPOCH - first) // _ONE_SECOND)
    offset_before = _offset_at(low, zone)
    while high - low > 1:
        middle = (low + high) // 2
        if _offset_at(middle, zone) == offset_before:
            low = middle
        else:
            high = middle
    return _EPOCH + high * _ONE_SECOND


def _offset_at(seconds: int, zone: ZoneInfo) -> timedelta | None:
    return (_EPOCH + seconds * _ONE_SECOND).astimezone(zone).utcoffset()
