"""The SLA clock: hand-computed examples, daylight-saving days, and properties over random calendars."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.domain.business_time import (
    BusinessHours,
    add_working_time,
    as_working_time,
    is_working_time,
    working_time_between,
)
from tests.support.examples import examples

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
WEEKDAYS = frozenset(range(5))
SUNDAYS = frozenset({6})
OFFICE = BusinessHours("Europe/Berlin", WEEKDAYS, time(9), time(17))
MICRO = timedelta(microseconds=1)
H = timedelta(hours=1)
M = timedelta(minutes=1)


def local(zone: ZoneInfo, *parts: int, fold: int = 0) -> datetime:
    return datetime(*parts, tzinfo=zone, fold=fold)


def sunday_window(zone: ZoneInfo, start: time, end: time) -> BusinessHours:
    return BusinessHours(str(zone), SUNDAYS, start, end)


# --- Hand-computed examples: Mon–Fri 09:00–17:00 in Berlin. 2026-06-05 is a Friday. ----------------


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        pytest.param(
            local(BERLIN, 2026, 6, 5, 16), 2 * H, local(BERLIN, 2026, 6, 8, 10), id="friday-over-weekend"
        ),
        pytest.param(local(BERLIN, 2026, 6, 6, 11, 23), H, local(BERLIN, 2026, 6, 8, 10), id="saturday"),
        pytest.param(local(BERLIN, 2026, 6, 7, 23, 59), H, local(BERLIN, 2026, 6, 8, 10), id="sunday-night"),
        pytest.param(local(BERLIN, 2026, 6, 8, 7, 30), H, local(BERLIN, 2026, 6, 8, 10), id="before-opening"),
        pytest.param(local(BERLIN, 2026, 6, 8, 18), H, local(BERLIN, 2026, 6, 9, 10), id="after-closing"),
        pytest.param(
            local(BERLIN, 2026, 6, 8, 10, 15), 30 * M, local(BERLIN, 2026, 6, 8, 10, 45), id="inside"
        ),
        pytest.param(local(BERLIN, 2026, 6, 8, 9), 40 * H, local(BERLIN, 2026, 6, 12, 17), id="whole-week"),
        pytest.param(
            local(BERLIN, 2026, 6, 8, 9), 41 * H, local(BERLIN, 2026, 6, 15, 10), id="week-and-hour"
        ),
        # In UTC (CEST is +2): 14:00 UTC is 16:00 in Berlin, so this is the Friday example again.
        pytest.param(
            datetime(2026, 6, 5, 14, tzinfo=UTC), 2 * H, local(BERLIN, 2026, 6, 8, 10), id="utc-start"
        ),
    ],
)
def test_examples(start, duration, expected):
    result = add_working_time(start, duration, OFFICE)
    assert result == expected
    assert result.tzinfo is UTC
    assert working_time_between(start, result, OFFICE) == duration


def test_a_duration_that_fills_the_day_ends_at_closing_time_not_next_opening():
    """Chosen rule: exactly using up a window ends at its end (Monday 17:00), not Tuesday 09:00."""
    monday_nine = local(BERLIN, 2026, 6, 8, 9)
    assert add_working_time(monday_nine, 8 * H, OFFICE) == local(BERLIN, 2026, 6, 8, 17)
    assert add_working_time(monday_nine, 8 * H + MICRO, OFFICE) == local(BERLIN, 2026, 6, 9, 9) + MICRO
    # Closing time itself is outside the window, so the clock continues at the next opening.
    assert add_working_time(local(BERLIN, 2026, 6, 8, 17), H, OFFICE) == local(BERLIN, 2026, 6, 9, 10)


def test_holidays_are_skipped():
    """2026-12-24/25 are Thursday and Friday: Wednesday 16:00 + 2h is Monday 10:00, not Thursday 10:00."""
    christmas = BusinessHours(
        "Europe/Berlin", WEEKDAYS, time(9), time(17), frozenset({date(2026, 12, 24), date(2026, 12, 25)})
    )
    wednesday = local(BERLIN, 2026, 12, 23, 16)
    assert add_working_time(wednesday, 2 * H, OFFICE) == local(BERLIN, 2026, 12, 24, 10)
    assert add_working_time(wednesday, 2 * H, christmas) == local(BERLIN, 2026, 12, 28, 10)
    assert working_time_between(wednesday, local(BERLIN, 2026, 12, 28, 10), christmas) == 2 * H
    assert not is_working_time(local(BERLIN, 2026, 12, 24, 10), christmas)


def test_holidays_are_local_dates():
    """Thursday 00:30 in Berlin is still Wednesday in UTC; the Berlin date decides."""
    hours = BusinessHours("Europe/Berlin", WEEKDAYS, time(0), time(1), frozenset({date(2026, 12, 24)}))
    thursday_half_past_midnight = datetime(2026, 12, 23, 23, 30, tzinfo=UTC)
    assert not is_working_time(thursday_half_past_midnight, hours)
    assert is_working_time(thursday_half_past_midnight - timedelta(days=1), hours)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (local(BERLIN, 2026, 6, 5, 16), local(BERLIN, 2026, 6, 8, 10), 2 * H),
        (local(BERLIN, 2026, 6, 6, 0), local(BERLIN, 2026, 6, 8, 0), timedelta(0)),
        (local(BERLIN, 2026, 6, 8, 8), local(BERLIN, 2026, 6, 8, 18), 8 * H),
        (local(BERLIN, 2026, 6, 8, 10), local(BERLIN, 2026, 6, 8, 10), timedelta(0)),
        (local(BERLIN, 2026, 6, 8, 12), local(BERLIN, 2026, 6, 8, 10), timedelta(0)),
        (local(BERLIN, 2026, 6, 1, 0), local(BERLIN, 2026, 6, 29, 0), 4 * 40 * H),
    ],
)
def test_working_time_between_examples(start, end, expected):
    assert working_time_between(start, end, OFFICE) == expected


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (local(BERLIN, 2026, 6, 8, 9), True),
        (local(BERLIN, 2026, 6, 8, 16, 59, 59, 999999), True),
        (local(BERLIN, 2026, 6, 8, 17), False),
        (local(BERLIN, 2026, 6, 8, 8, 59, 59, 999999), False),
        (local(BERLIN, 2026, 6, 6, 12), False),
        (datetime(2026, 6, 8, 7, tzinfo=UTC), True),  # 09:00 CEST
        (datetime(2026, 6, 8, 15, tzinfo=UTC), False),  # 17:00 CEST
    ],
)
def test_is_working_time_examples(moment, expected):
    assert is_working_time(moment, OFFICE) is expected


def test_zero_duration_returns_the_start_even_outside_working_time():
    saturday = local(BERLIN, 2026, 6, 6, 11, 23, 45, 123456)
    result = add_working_time(saturday, timedelta(0), OFFICE)
    assert result == saturday
    assert result.tzinfo is UTC


# --- Daylight saving: real elapsed time counts. -----------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "sunday", "length"),
    [
        pytest.param(BERLIN, date(2026, 6, 7), 6 * H, id="berlin-summer"),
        pytest.param(BERLIN, date(2026, 3, 29), 5 * H, id="berlin-spring-forward"),
        pytest.param(BERLIN, date(2026, 10, 25), 7 * H, id="berlin-fall-back"),
        pytest.param(NEW_YORK, date(2026, 3, 8), 5 * H, id="new-york-spring-forward"),
        pytest.param(NEW_YORK, date(2026, 11, 1), 7 * H, id="new-york-fall-back"),
        pytest.param(LORD_HOWE, date(2026, 10, 4), 5 * H + 30 * M, id="lord-howe-spring-forward"),
        pytest.param(LORD_HOWE, date(2026, 4, 5), 6 * H + 30 * M, id="lord-howe-fall-back"),
    ],
)
def test_a_window_across_a_clock_change_lasts_the_real_elapsed_time(zone, sunday, length):
    hours = sunday_window(zone, time(0), time(6))
    midnight = datetime.combine(sunday, time(0), tzinfo=zone)
    next_midnight = datetime.combine(sunday + timedelta(days=1), time(0), tzinfo=zone)
    assert working_time_between(midnight, next_midnight, hours) == length
    assert add_working_time(midnight, length, hours) == datetime.combine(sunday, time(6), tzinfo=zone)
    next_sunday = datetime.combine(sunday + timedelta(days=7), time(0, 1), tzinfo=zone)
    assert add_working_time(midnight, length + M, hours) == next_sunday


def test_a_window_opening_inside_the_spring_forward_gap_opens_when_the_clocks_jump():
    """New York skips 02:00–03:00 on 2026-03-08: a 02:30 opening means 03:00 EDT (07:00 UTC)."""
    hours = sunday_window(NEW_YORK, time(2, 30), time(4))
    saturday = local(NEW_YORK, 2026, 3, 7, 12)
    assert add_working_time(saturday, 30 * M, hours) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert working_time_between(saturday, local(NEW_YORK, 2026, 3, 9, 0), hours) == H
    assert not is_working_time(datetime(2026, 3, 8, 6, 59, tzinfo=UTC), hours)  # 01:59 EST
    assert is_working_time(datetime(2026, 3, 8, 7, tzinfo=UTC), hours)  # 03:00 EDT


def test_a_window_inside_the_spring_forward_gap_contributes_nothing():
    hours = sunday_window(NEW_YORK, time(2, 15), time(2, 45))
    saturday = local(NEW_YORK, 2026, 3, 7, 12)
    assert working_time_between(saturday, local(NEW_YORK, 2026, 3, 9, 0), hours) == timedelta(0)
    assert add_working_time(saturday, 10 * M, hours) == local(NEW_YORK, 2026, 3, 15, 2, 25)


def test_a_window_closing_inside_the_spring_forward_gap_closes_when_the_clocks_jump():
    hours = sunday_window(BERLIN, time(1), time(2, 30))
    saturday = local(BERLIN, 2026, 3, 28, 12)
    assert working_time_between(saturday, local(BERLIN, 2026, 3, 30, 0), hours) == H
    assert add_working_time(saturday, H, hours) == datetime(2026, 3, 29, 1, tzinfo=UTC)  # 03:00 CEST


def test_ambiguous_window_times_mean_their_first_occurrence():
    """New York repeats 01:00–02:00 on 2026-11-01: 01:30 is the EDT one (05:30 UTC), 02:00 is EST."""
    ends_ambiguous = sunday_window(NEW_YORK, time(1), time(1, 30))
    saturday = local(NEW_YORK, 2026, 10, 31, 12)
    monday = local(NEW_YORK, 2026, 11, 2, 0)
    assert working_time_between(saturday, monday, ends_ambiguous) == 30 * M
    assert add_working_time(saturday, 30 * M, ends_ambiguous) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert not is_working_time(local(NEW_YORK, 2026, 11, 1, 1, 15, fold=1), ends_ambiguous)

    starts_ambiguous = sunday_window(NEW_YORK, time(1, 30), time(2))
    assert working_time_between(saturday, monday, starts_ambiguous) == 90 * M
    assert is_working_time(local(NEW_YORK, 2026, 11, 1, 1, 15, fold=1), starts_ambiguous)

    both_ambiguous = sunday_window(BERLIN, time(2), time(2, 30))
    opens = datetime(2026, 10, 25, 0, tzinfo=UTC)  # 02:00 CEST, the first 02:00
    assert add_working_time(local(BERLIN, 2026, 10, 24, 12), 30 * M, both_ambiguous) == opens + 30 * M


def test_a_fall_back_across_midnight_puts_saturday_moments_in_sundays_window():
    """Moncton fell back from Sunday 00:01 ADT to Saturday 23:01 AST on 2005-10-30, so the clocks showed
    Saturday 23:30 after Sunday's 00:00 opening (03:00 UTC); the window ran until 06:00 AST (10:00 UTC)."""
    moncton = ZoneInfo("America/Moncton")
    hours = sunday_window(moncton, time(0), time(6))
    saturday_again = datetime(2005, 10, 30, 3, 30, tzinfo=UTC)
    assert saturday_again.astimezone(moncton).date() == date(2005, 10, 29)
    assert is_working_time(saturday_again, hours)
    saturday_noon = local(moncton, 2005, 10, 29, 12)
    assert working_time_between(saturday_noon, saturday_again, hours) == 30 * M
    assert working_time_between(saturday_noon, local(moncton, 2005, 10, 31, 0), hours) == 7 * H
    assert add_working_time(saturday_noon, 30 * M, hours) == saturday_again
    assert add_working_time(saturday_again, H, hours) == saturday_again + H


# --- No business hours: the clock always runs. ------------------------------------------------------


def test_without_business_hours_time_is_plain_elapsed_time():
    saturday_noon = local(BERLIN, 2026, 3, 28, 12)
    result = add_working_time(saturday_noon, 24 * H, None)
    assert result == local(BERLIN, 2026, 3, 29, 13)  # 24 real hours across the spring-forward night
    assert result.tzinfo is UTC
    assert working_time_between(saturday_noon, local(BERLIN, 2026, 3, 29, 12), None) == 23 * H
    assert working_time_between(local(BERLIN, 2026, 3, 29, 12), saturday_noon, None) == timedelta(0)
    assert is_working_time(saturday_noon, None)


@settings(deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2025, 1, 1),
        max_value=datetime(2028, 12, 31),
        timezones=st.sampled_from([UTC, BERLIN, NEW_YORK, LORD_HOWE]),
    ),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
)
def test_without_business_hours_add_and_between_are_plain_arithmetic(start, duration):
    result = add_working_time(start, duration, None)
    assert result == start.astimezone(UTC) + duration
    assert result.tzinfo is UTC
    assert working_time_between(start, result, None) == duration
    assert working_time_between(result, start, None) == timedelta(0)
    assert is_working_time(start, None)


# --- Errors. ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("hours", [OFFICE, None], ids=["office", "none"])
def test_naive_datetimes_are_refused(hours):
    naive = datetime(2026, 6, 8, 10)
    aware = local(BERLIN, 2026, 6, 8, 10)
    with pytest.raises(ValueError, match="timezone-aware"):
        add_working_time(naive, H, hours)
    with pytest.raises(ValueError, match="timezone-aware"):
        working_time_between(naive, aware, hours)
    with pytest.raises(ValueError, match="timezone-aware"):
        working_time_between(aware, naive, hours)
    with pytest.raises(ValueError, match="timezone-aware"):
        is_working_time(naive, hours)


@pytest.mark.parametrize("hours", [OFFICE, None], ids=["office", "none"])
def test_negative_durations_are_refused(hours):
    with pytest.raises(ValueError, match="negative"):
        add_working_time(local(BERLIN, 2026, 6, 8, 10), -MICRO, hours)


def mondays_off(first: date, count: int) -> BusinessHours:
    return BusinessHours(
        "Europe/Berlin",
        frozenset({0}),
        time(9),
        time(17),
        frozenset(first + timedelta(weeks=k) for k in range(count)),
    )


def test_a_calendar_without_working_time_is_refused_instead_of_looping_forever():
    first_monday = date(2026, 1, 5)
    dead = mondays_off(first_monday, 531)  # every Monday for 3,717 days
    start = local(BERLIN, 2026, 1, 5, 8)
    with pytest.raises(ValueError, match="no working time"):
        add_working_time(start, H, dead)
    assert working_time_between(start, start + timedelta(days=30), dead) == timedelta(0)


def test_ten_years_of_holidays_are_still_crossed():
    first_monday = date(2026, 1, 5)
    weeks = 520
    sparse = mondays_off(first_monday, weeks)
    expected = datetime.combine(first_monday + timedelta(weeks=weeks), time(10), tzinfo=BERLIN)
    assert add_working_time(local(BERLIN, 2026, 1, 5, 8), H, sparse) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"days": frozenset()}, "at least one working day"),
        ({"days": frozenset({7})}, "0 \\(Monday\\) to 6"),
        ({"start": time(17), "end": time(9)}, "start before it ends"),
        ({"start": time(9), "end": time(9)}, "start before it ends"),
        ({"timezone": "Mars/Olympus_Mons"}, "IANA"),
        ({"start": time(9, tzinfo=UTC)}, "without tzinfo"),
    ],
)
def test_invalid_business_hours_are_refused(kwargs, message):
    fields = {"timezone": "Europe/Berlin", "days": WEEKDAYS, "start": time(9), "end": time(17)} | kwargs
    with pytest.raises(ValueError, match=message):
        BusinessHours(**fields)


# --- Properties over random calendars. ---------------------------------------------------------------

ZONE_NAMES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
# Clock changes in 2026 (Berlin, New York, Lord Howe); starts are drawn near them often.
TRANSITION_DATES = [
    date(2026, 3, 29),
    date(2026, 10, 25),
    date(2026, 3, 8),
    date(2026, 11, 1),
    date(2026, 4, 5),
    date(2026, 10, 4),
]
START_ZONES = [UTC, BERLIN, NEW_YORK, LORD_HOWE, ZoneInfo("Asia/Kolkata"), timezone(timedelta(hours=-3))]

quarter_hours = st.integers(0, 95).map(lambda q: time(q // 4, q % 4 * 15))
# Times at and around the clock changes, so windows often open or close inside a gap or a repeat.
tricky_times = st.sampled_from([time(0), time(1), time(1, 30), time(2), time(2, 15), time(2, 30), time(3)])
window_times = st.one_of(quarter_hours, tricky_times)

random_starts = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2028, 12, 31),
    timezones=st.sampled_from(START_ZONES),
    allow_imaginary=False,
)
starts_near_transitions = st.builds(
    lambda day, minutes: datetime.combine(day, time(0), tzinfo=UTC) + minutes * M,
    st.sampled_from(TRANSITION_DATES),
    st.integers(-3 * 1440, 2 * 1440),
)
starts = st.one_of(random_starts, starts_near_transitions)
durations = st.one_of(
    st.integers(0, 24 * 60).map(lambda n: n * M),
    st.integers(0, 20 * 24 * 60).map(lambda n: n * M),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)),
)


@st.composite
def calendars(draw, anchor: date) -> BusinessHours:
    """Holidays are drawn near `anchor` (the start) so that they actually get in the way."""
    opens, closes = draw(window_times), draw(window_times)
    assume(opens != closes)
    opens, closes = min(opens, closes), max(opens, closes)
    offsets = draw(st.frozensets(st.integers(-2, 60), max_size=12))
    return BusinessHours(
        timezone=draw(st.sampled_from(ZONE_NAMES)),
        days=draw(st.frozensets(st.integers(0, 6), min_size=1)),
        start=opens,
        end=closes,
        holidays=frozenset(anchor + timedelta(days=k) for k in offsets),
    )


@st.composite
def scenarios(draw) -> tuple[datetime, BusinessHours]:
    start = draw(starts)
    return start, draw(calendars(start.astimezone(UTC).date()))


PROPERTY = settings(
    max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)


@PROPERTY
@given(scenarios(), durations)
def test_the_working_time_up_to_the_result_is_the_duration(scenario, duration):
    start, hours = scenario
    result = add_working_time(start, duration, hours)
    assert result.tzinfo is UTC
    assert result >= start
    assert working_time_between(start, result, hours) == duration


@PROPERTY
@given(scenarios(), durations, durations)
def test_a_longer_duration_never_ends_earlier(scenario, first, second):
    start, hours = scenario
    shorter, longer = sorted([first, second])
    assert add_working_time(start, shorter, hours) <= add_working_time(start, longer, hours)
    if shorter < longer:
        # Strictly later: every instant of working time counts, none is counted twice.
        assert add_working_time(start, shorter, hours) < add_working_time(start, longer, hours)


@PROPERTY
@given(scenarios(), durations, durations)
def test_adding_in_two_steps_is_adding_the_sum(scenario, first, second):
    """Holds even when the first step ends exactly at closing time: the second starts at the next opening."""
    start, hours = scenario
    in_steps = add_working_time(add_working_time(start, first, hours), second, hours)
    assert in_steps == add_working_time(start, first + second, hours)


@PROPERTY
@given(scenarios(), durations)
def test_a_positive_duration_ends_inside_a_window_or_at_its_end_on_a_working_day(scenario, duration):
    start, hours = scenario
    assume(duration > timedelta(0))
    result = add_working_time(start, duration, hours)
    assert is_working_time(result - MICRO, hours)
    wall = result.astimezone(ZoneInfo(hours.timezone))
    assert wall.date() not in hours.holidays
    assert wall.weekday() in hours.days


@PROPERTY
@given(
    scenarios(),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)),
)
def test_working_time_between_adds_up_over_consecutive_spans(scenario, first, second):
    start, hours = scenario
    a = start.astimezone(UTC)
    b, c = a + first, a + first + second
    whole = working_time_between(a, c, hours)
    assert working_time_between(a, b, hours) + working_time_between(b, c, hours) == whole
    assert timedelta(0) <= whole <= c - a
    assert working_time_between(c, a, hours) == timedelta(0)


def _repeated(day: date, wall: time, zone: ZoneInfo) -> bool:
    """Whether the clocks show `wall` twice on `day` (fall back)."""
    first = datetime.combine(day, wall, tzinfo=zone)
    second = first.replace(fold=1)
    exists = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == first.replace(tzinfo=None)
    return exists and first.utcoffset() != second.utcoffset()


def _wall_clock_says_working(moment: datetime, hours: BusinessHours) -> bool:
    """The definition as a person reads it off the office clock, without any UTC window arithmetic."""
    wall = moment.astimezone(ZoneInfo(hours.timezone))
    return (
        wall.weekday() in hours.days
        and wall.date() not in hours.holidays
        and hours.start <= wall.time() < hours.end
    )


QUARTER = 15 * M
SPAN_QUARTERS = 3 * 24 * 4


@PROPERTY
@given(
    st.one_of(
        st.builds(
            lambda day, k: datetime.combine(day - timedelta(days=1), time(0), tzinfo=UTC) + k * QUARTER,
            st.sampled_from(TRANSITION_DATES),
            st.integers(0, 96),
        ),
        st.integers(0, 4 * 365 * 96).map(lambda k: datetime(2025, 1, 1, tzinfo=UTC) + k * QUARTER),
    ).flatmap(lambda start: st.tuples(st.just(start), calendars(start.date()))),
)
def test_agrees_with_reading_the_office_clock(scenario):
    """Sampling every quarter hour is exact here: every window edge and clock change in these zones
    falls on a UTC quarter hour. Repeated (fall-back) window edges are left to the examples above,
    since the office clock alone cannot tell which occurrence is meant."""
    start, hours = scenario
    zone = ZoneInfo(hours.timezone)
    first_day = start.astimezone(zone).date()
    days = [first_day + timedelta(days=k) for k in range(-1, 5)]
    assume(not any(_repeated(day, wall, zone) for day in days for wall in (hours.start, hours.end)))
    moments = [start + k * QUARTER for k in range(SPAN_QUARTERS)]
    working = [_wall_clock_says_working(moment, hours) for moment in moments]
    assert [is_working_time(moment, hours) for moment in moments] == working
    end = start + SPAN_QUARTERS * QUARTER
    assert working_time_between(start, end, hours) == sum(working) * QUARTER


def test_a_policy_day_is_one_working_day_and_the_rest_counts_as_written():
    office = BusinessHours("Europe/London", WEEKDAYS, time(9), time(17, 30))
    assert as_working_time(timedelta(days=1), office) == 8 * H + 30 * M
    assert as_working_time(timedelta(days=3, hours=4), office) == 3 * (8 * H + 30 * M) + 4 * H
    assert as_working_time(90 * M, office) == 90 * M
    assert as_working_time(timedelta(days=2), None) == 48 * H  # no business hours: real days
