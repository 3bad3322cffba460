"""The policy's digest section (errors that name the field and the fix) and the week arithmetic
that decides which digest is due: ISO weeks in the digest's time zone, across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import yaml

from bot.domain.digest import targets
from bot.domain.digest_policy import (
    DigestPolicy,
    due_at,
    last_finished_week,
    latest_due_week,
    parse_week,
    week_bounds,
    week_label,
)
from bot.policy_file import PolicyError, parse_policy

BERLIN = DigestPolicy(day="mon", time="09:00", timezone="Europe/Berlin", channel="C0WINS")


def problems(raw_policy, digest) -> list[str]:
    raw_policy["digest"] = digest
    with pytest.raises(PolicyError) as error:
        parse_policy(raw_policy, "policy.yml")
    return error.value.problems


def test_no_digest_section_means_no_digest(raw_policy):
    assert raw_policy.pop("digest")["channel"] == "C0WINS"  # the example shows the section
    assert targets(parse_policy(raw_policy, "policy.yml")) == []


def test_one_digest_for_everyone_and_one_per_department(raw_policy):
    raw_policy["digest"] = {"channel": "C0WINS", "per_department": True}
    policy = parse_policy(raw_policy, "policy.yml")
    assert [(t.key, t.channel, t.title) for t in targets(policy)] == [
        ("all", "C0WINS", "everyone"),
        ("department:support", "C0SUPPORT", "Customer Support"),
        ("department:billing", "C0BILLING", "Billing"),
        ("department:product", "C0PRODUCT", "Product"),
    ]
    assert (policy.digest.day, policy.digest.time, policy.digest.timezone) == ("mon", "09:00", "UTC")


@pytest.mark.parametrize(
    ("digest", "expected"),
    [
        ({}, "policy.yml: digest: the digest goes nowhere — set channel: C… (one digest for everyone)"),
        ({"channel": "#wins"}, "policy.yml: digest.channel: '#wins' is not a Slack channel id"),
        (
            {"channel": "C0WINS", "day": "funday"},
            "policy.yml: digest.day: 'funday' is not a weekday — use one of: mon",
        ),
        (
            {"channel": "C0WINS", "time": "25:00"},
            "policy.yml: digest.time: '25:00' is not a time of day — write it",
        ),
        ({"channel": "C0WINS", "time": "nine"}, "policy.yml: digest.time: 'nine' is not a time of day"),
        (
            {"channel": "C0WINS", "timezone": "Mars/Olympus"},
            "policy.yml: digest.timezone: 'Mars/Olympus' is not a",
        ),
        ({"channel": "C0WINS", "weekly": True}, "policy.yml: digest.weekly: "),
    ],
)
def test_a_bad_digest_section_names_the_field_and_the_fix(raw_policy, digest, expected):
    (problem,) = problems(raw_policy, digest)
    assert problem.startswith(expected), problem


def test_yaml_times_and_weekday_names_are_read_as_meant(raw_policy):
    # Unquoted 9:30 is sexagesimal in YAML 1.1 (570); Friday is a weekday's full name.
    raw_policy["digest"] = yaml.safe_load("channel: C0WINS\ntime: 9:30\nday: Friday")
    assert yaml.safe_load("time: 9:30")["time"] == 570
    digest = parse_policy(raw_policy, "policy.yml").digest
    assert (digest.time, digest.day) == ("09:30", "fri")


def test_weeks_are_iso_weeks_in_the_digests_time_zone():
    assert parse_week("2026-W48") == date(2026, 11, 23) and week_label(date(2026, 11, 23)) == "2026-W48"
    assert parse_week("2025-W53") is None and parse_week("2026-W53") == date(2026, 12, 28)
    assert parse_week("2026-48") is None and parse_week("2026-W00") is None
    since, until = week_bounds(BERLIN, date(2026, 11, 23))
    assert since == datetime(2026, 11, 22, 23, 0, tzinfo=UTC) and until == datetime(
        2026, 11, 29, 23, 0, tzinfo=UTC
    )
    # The week DST ends in (Sun 25 Oct 2026) has 169 hours; its digest is due at 09:00 CET.
    since, until = week_bounds(BERLIN, date(2026, 10, 19))
    assert (until - since).total_seconds() == 169 * 3600
    assert due_at(BERLIN, date(2026, 10, 19)) == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "due_week"),
    [
        (datetime(2026, 11, 30, 7, 59, tzinfo=UTC), "2026-W47"),  # 08:59 in Berlin: W48 not yet due
        (datetime(2026, 11, 30, 8, 0, tzinfo=UTC), "2026-W48"),  # 09:00 in Berlin: due
        (datetime(2026, 12, 6, 22, 59, tzinfo=UTC), "2026-W48"),  # Sun 23:59 in Berlin: still W48
        (datetime(2026, 12, 6, 23, 0, tzinfo=UTC), "2026-W48"),  # Mon 00:00: W49 over, not yet due
        (datetime(2026, 12, 7, 8, 0, tzinfo=UTC), "2026-W49"),
        (datetime(2027, 1, 4, 8, 0, tzinfo=UTC), "2026-W53"),  # 2026 has 53 ISO weeks
    ],
)
def test_the_newest_due_week(now, due_week):
    assert week_label(latest_due_week(BERLIN, now)) == due_week


def test_a_friday_digest_reports_the_week_before_on_the_friday_after_it():
    friday = DigestPolicy(day="fri", time="16:00", timezone="America/New_York", channel="C0WINS")
    assert due_at(friday, date(2026, 11, 23)) == datetime(2026, 12, 4, 21, 0, tzinfo=UTC)
    assert week_label(latest_due_week(friday, datetime(2026, 12, 4, 20, 59, tzinfo=UTC))) == "2026-W47"
    assert week_label(latest_due_week(friday, datetime(2026, 12, 4, 21, 0, tzinfo=UTC))) == "2026-W48"
    assert week_label(last_finished_week(friday, datetime(2026, 12, 2, tzinfo=UTC))) == "2026-W48"


def test_closeloop_check_looks_at_the_digests_channel_too(raw_policy):
    from bot.check import policy_channels

    raw_policy["digest"] = {"channel": "C0DIGEST"}
    channels = policy_channels(parse_policy(raw_policy, "policy.yml"))
    assert channels["C0DIGEST"] == "the weekly digest"
    raw_policy["digest"] = {"channel": "C0WINS"}
    assert (
        policy_channels(parse_policy(raw_policy, "policy.yml"))["C0WINS"]
        == "announcements, the weekly digest"
    )
