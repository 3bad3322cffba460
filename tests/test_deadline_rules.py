"""The policy's deadline section and the pure deadline rules: when steps are due, which reminders
and escalations a case's state calls for, and what a sweep sends for due rows."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.domain.deadlines import (
    CaseFacts,
    NextDeadline,
    decide,
    due_dates,
    next_deadline,
    plan,
    raised_priority,
)
from bot.domain.durations import format_duration, parse_duration
from bot.domain.records import DeadlineRecord
from bot.domain.vocabulary import DeadlineKind, EventKind, Step
from bot.policy_file import parse_policy
from tests.factories import case_snapshot
from tests.test_config import problems

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)


def a_case(policy, **changes):
    """An enterprise detractor of support, opened NOW, with the policy's due dates filled in."""
    case = replace(
        case_snapshot(),
        id=7,
        status="new",
        owner_id=None,
        claimed_at=None,
        contacted_at=None,
        closed_at=None,
        department="support",
        category="detractor",
        priority="high",
        customer_segment="smb",
        customer_value=None,
        tags=(),
        created_at=NOW,
    )
    case = replace(case, **changes)
    dates = due_dates(policy, case)
    return replace(
        case, claim_due_at=dates.claim, contact_due_at=dates.first_contact, close_due_at=dates.close
    )


# ---- the policy file --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", 15 * timedelta(minutes=1)),
        ("4h", 4 * H),
        ("2d", 48 * H),
        ("1h30m", 90 * timedelta(minutes=1)),
        ("1d 4h", 28 * H),
    ],
)
def test_durations_take_units(text, expected):
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize("text", ["30", "", "4 hours", "h", "-1h", "1.5h", "1w"])
def test_durations_without_a_known_unit_are_refused(text):
    with pytest.raises(ValueError, match="write a number with a unit"):
        parse_duration(text)


def test_deadline_problems_name_the_field_and_the_fix(raw_policy):
    data = copy.deepcopy(raw_policy)
    data["sla"]["deadlines"][0]["claim"] = 30
    data["sla"]["owner_reminders"] = ["150%"]
    data["sla"]["sweep_every"] = "0s"
    data["departments"][1]["business_hours"]["timezone"] = "Berlin"
    data["departments"][1]["business_hours"]["hours"] = "17:00-09:00"
    data["departments"][0]["user_group"] = "@support-team"
    found = "\n".join(problems(data))
    assert "policy.yml: sla.deadlines[0].claim: 30 is not a duration — write a number with a unit" in found
    assert "sla.owner_reminders[0]: '150%' is not a share of the time — write a percentage" in found
    assert "sla.sweep_every: must be between 1s and 1h" in found
    assert "departments[1].business_hours.timezone: 'Berlin' is not a time zone — use an IANA name" in found
    assert "departments[1].business_hours.hours: '17:00-09:00' ends before it starts" in found
    assert "departments[0].user_group: '@support-team' is not a user group id" in found


def test_a_deadline_rule_for_an_unknown_department_is_named(raw_policy):
    data = copy.deepcopy(raw_policy)
    data["sla"]["deadlines"][1]["department"] = ["sales"]
    (found,) = problems(data)
    assert found == (
        "policy.yml: sla.deadlines[1].department: 'sales' is not a department — use one of: "
        "support, billing, product"
    )


def test_a_rule_without_deadlines_or_a_priority_rule_without_conditions_is_refused(raw_policy):
    data = copy.deepcopy(raw_policy)
    data["sla"]["deadlines"].append({"name": "nothing"})
    data["cases"]["raise_priority"].append({"priority": "urgent"})
    found = "\n".join(problems(data))
    assert "sla.deadlines[3]: the rule sets no deadline — give claim, first_contact or close" in found
    assert "cases.raise_priority[3]: a priority rule without conditions raises every case" in found


def test_without_an_sla_section_there_are_no_deadlines(raw_policy, policy):
    data = copy.deepcopy(raw_policy)
    del data["sla"]
    bare = parse_policy(data, "policy.yml")
    case = a_case(bare)
    assert (case.claim_due_at, case.contact_due_at, case.close_due_at) == (None, None, None)
    assert plan(bare, case) == []


# ---- priority and due dates ---------------------------------------------------------------------


def facts(**changes) -> CaseFacts:
    base = {
        "category": "detractor",
        "priority": "high",
        "department": "support",
        "segment": None,
        "tags": (),
        "value": None,
    }
    return CaseFacts(**{**base, **changes})


def test_priority_rules_only_raise(policy):
    rules = policy.cases.raise_priority
    assert raised_priority("high", rules, facts()) == "high"
    assert raised_priority("high", rules, facts(segment="Enterprise")) == "urgent"
    assert raised_priority("normal", rules, facts(category="passive", segment="enterprise")) == "normal"
    assert raised_priority("normal", rules, facts(category="passive", value=Decimal(50000))) == "high"
    assert raised_priority("normal", rules, facts(category="passive", value=Decimal(49999))) == "normal"
    assert raised_priority("low", rules, facts(category="passive", tags=("Churn-Risk",))) == "urgent"
    assert raised_priority("urgent", rules, facts(value=Decimal(10**6))) == "urgent"


def test_the_first_matching_deadline_rule_sets_the_clock(policy):
    urgent = a_case(policy, priority="urgent")
    assert (urgent.claim_due_at, urgent.contact_due_at, urgent.close_due_at) == (
        NOW + timedelta(minutes=15),
        NOW + H,
        NOW + 24 * H,
    )
    detractor = a_case(policy)
    assert (detractor.claim_due_at, detractor.close_due_at) == (NOW + 2 * H, NOW + 72 * H)
    passive = a_case(policy, category="passive", priority="normal")
    assert passive.claim_due_at == NOW + 24 * H


def test_business_hours_stop_the_clock(policy):
    # billing works Mon–Fri 09:00–17:30 London (GMT in November). Friday 16:30 + 2 h of work:
    # 1 h on Friday, then Monday 09:00 + 1 h.
    friday = datetime(2026, 11, 27, 16, 30, tzinfo=UTC)
    case = a_case(policy, department="billing", created_at=friday)
    assert case.claim_due_at == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    # Christmas: Thursday 24 Dec 17:00 + 2 h of work skips the 25th (holiday), the weekend and
    # the 28th (holiday): it ends Tuesday 29 Dec 11:00... minus the half hour left on the 24th.
    eve = datetime(2026, 12, 24, 17, 0, tzinfo=UTC)
    case = a_case(policy, department="billing", created_at=eve)
    assert case.claim_due_at == datetime(2026, 12, 29, 10, 30, tzinfo=UTC)


def test_under_business_hours_a_day_is_a_working_day(policy):
    # billing: Mon–Fri 09:00–17:30 London, so a day is 8 h 30 min of work. A detractor's first
    # contact (1d) arriving Friday 16:30 is due Monday 16:30; its close (3d), Wednesday 16:30:
    # the same time of day, one and three working days later, not 24 and 72 working hours.
    friday = datetime(2026, 11, 27, 16, 30, tzinfo=UTC)
    case = a_case(policy, department="billing", created_at=friday)
    assert case.contact_due_at == datetime(2026, 11, 30, 16, 30, tzinfo=UTC)
    assert case.close_due_at == datetime(2026, 12, 2, 16, 30, tzinfo=UTC)
    # On a Saturday nothing runs until Monday 09:00: one working day ends Monday 17:30.
    saturday = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
    case = a_case(policy, department="billing", created_at=saturday)
    assert case.contact_due_at == datetime(2026, 11, 30, 17, 30, tzinfo=UTC)


# ---- what a case's state calls for --------------------------------------------------------------


def keys(specs):
    return sorted((s.kind, s.step, s.level, s.recipient) for s in specs)


def test_a_new_case_plans_a_nudge_and_a_two_level_chain_per_step(policy):
    specs = plan(policy, a_case(policy))
    assert keys(specs) == sorted(
        [(DeadlineKind.CLAIM_NUDGE, Step.CLAIM, 0, None)]
        + [(DeadlineKind.ESCALATION, step, level, None) for step in Step for level in (1, 2)]
    )
    by_key = {s.key: s.due_at for s in specs}
    assert by_key[(DeadlineKind.ESCALATION, Step.CLAIM, 2, None)] == NOW + 2 * H + 4 * H


def test_claiming_trades_the_claim_chain_for_owner_reminders(policy):
    case = a_case(policy)
    claimed = replace(case, status="claimed", owner_id="U0ALICE", claimed_at=NOW + 10 * H)
    specs = plan(policy, claimed)
    assert not [s for s in specs if s.step == Step.CLAIM]
    reminders = [(s.level, s.due_at) for s in specs if s.kind == DeadlineKind.OWNER_REMINDER]
    # Close in 3 days: 50 % is 36 h in, 90 % is 64.8 h in; both after the claim at 10 h.
    assert reminders == [(50, NOW + 36 * H), (90, NOW + timedelta(hours=64.8))]
    assert {s.recipient for s in specs if s.kind == DeadlineKind.OWNER_REMINDER} == {"U0ALICE"}
    late = replace(claimed, claimed_at=NOW + 40 * H)
    assert [s.level for s in plan(policy, late) if s.kind == DeadlineKind.OWNER_REMINDER] == [90]


def test_contact_and_close_end_their_chains(policy):
    contacted = a_case(policy, status="contacted", owner_id="U0ALICE", claimed_at=NOW, contacted_at=NOW)
    assert {s.step for s in plan(policy, contacted)} == {Step.CLOSE}
    assert plan(policy, replace(contacted, status="closed")) == []


def test_the_message_shows_the_earliest_missed_step_else_the_next(policy):
    case = a_case(policy)
    assert next_deadline(case, NOW) == NextDeadline(Step.CLAIM, NOW + 2 * H, overdue=False)
    assert next_deadline(case, NOW + 3 * H) == NextDeadline(Step.CLAIM, NOW + 2 * H, overdue=True)
    claimed = replace(case, owner_id="U0ALICE", status="claimed")
    assert next_deadline(claimed, NOW + 3 * H) == NextDeadline(
        Step.FIRST_CONTACT, NOW + 24 * H, overdue=False
    )
    assert next_deadline(replace(claimed, status="closed"), NOW) is None


# ---- what a sweep sends -------------------------------------------------------------------------


def rows_for(policy, case):
    return [
        DeadlineRecord(i, case.id, s.kind, s.step, s.level, s.recipient, s.due_at, "pending", False, None)
        for i, s in enumerate(plan(policy, case), start=1)
    ]


def test_after_downtime_each_audience_gets_one_message_not_a_burst(policy):
    case = a_case(policy)
    rows = rows_for(policy, case)
    decision = decide(policy, case, rows, NOW + 30 * 24 * H)  # a month later, everything is due
    fired = {(f.event_kind, f.details.get("level"), f.details.get("step")) for f in decision.fire}
    assert fired == {
        (EventKind.CLAIM_NUDGE, None, Step.CLAIM),
        (EventKind.ESCALATED, 1, Step.CLOSE),
        (EventKind.ESCALATED, 2, Step.CLOSE),
    }
    assert len(decision.supersede) == len(rows) - 3 and not decision.cancel
    level_one = next(f for f in decision.fire if f.details.get("level") == 1)
    assert level_one.recipients == ("U0MAYA",) and level_one.refresh_message
    level_two = next(f for f in decision.fire if f.details.get("level") == 2)
    assert level_two.recipients == ("U0CAROL",)


def test_a_row_for_a_step_done_meanwhile_is_dropped(policy):
    case = a_case(policy)
    rows = rows_for(policy, case)
    claimed = replace(case, status="claimed", owner_id="U0ALICE", claimed_at=NOW + H)
    due = [r for r in rows if r.due_at <= NOW + 2 * H]  # the claim nudge and claim escalation
    decision = decide(policy, claimed, due, NOW + 2 * H)
    assert decision.fire == () and sorted(decision.cancel) == sorted(r.id for r in due)


def test_an_owner_reminder_after_the_close_deadline_is_not_sent(policy):
    case = a_case(policy, status="claimed", owner_id="U0ALICE", claimed_at=NOW)
    reminders = [r for r in rows_for(policy, case) if r.kind == DeadlineKind.OWNER_REMINDER]
    late = decide(policy, case, reminders, NOW + 80 * H)
    assert late.fire == () and sorted(late.supersede) == sorted(r.id for r in reminders)
    on_time = decide(policy, case, reminders[:1], NOW + 37 * H)
    (firing,) = on_time.fire
    assert firing.recipients == ("U0ALICE",) and firing.details["share"] == 50
