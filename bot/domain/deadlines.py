"""Follow-up deadlines, decided from the policy and a case's state alone (pure: `now` is passed in).

Three questions, three functions: when is each step due (`due_dates`), which reminders and
escalations does the case's current state call for (`plan`), and what should a sweep send for
the rows that came due (`decide`). Storage keeps the rows; the sweep only carries decisions out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from bot.domain.business_time import BusinessHours, add_working_time, as_working_time, working_time_between
from bot.domain.deadline_policy import DeadlineRule, PriorityRule
from bot.domain.outer_loop import promise_reminders
from bot.domain.policy import HasDepartment, Policy
from bot.domain.records import CaseSnapshot, DeadlineRecord, DeadlineSpec, DueDates, Firing, SweepDecision
from bot.domain.vocabulary import CaseStatus, DeadlineKind, DeliveryKind, EventKind, Priority, Step

PRIORITY_ORDER = (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT)
STEP_ORDER = (Step.CLAIM, Step.FIRST_CONTACT, Step.CLOSE)


@dataclass(frozen=True)
class CaseFacts:
    """What priority and deadline rules look at."""

    category: str
    priority: str
    department: str
    segment: str | None
    tags: Sequence[str]
    value: Decimal | None


def _facts(case: CaseSnapshot) -> CaseFacts:
    return CaseFacts(
        case.category, case.priority, case.department, case.customer_segment, case.tags, case.customer_value
    )


def _folded(values: Sequence[str]) -> set[str]:
    return {v.casefold() for v in values}


def _priority_rule_matches(rule: PriorityRule, facts: CaseFacts) -> bool:
    if rule.category and facts.category not in rule.category:
        return False
    if rule.segment and (facts.segment or "").casefold() not in _folded(rule.segment):
        return False
    if rule.tags and not (_folded(rule.tags) & _folded(facts.tags)):
        return False
    return rule.customer_value_at_least is None or (
        facts.value is not None and facts.value >= rule.customer_value_at_least
    )


def raised_priority(base: str, rules: Sequence[PriorityRule], facts: CaseFacts) -> str:
    """The highest of `base` and every matching rule's priority: rules only ever raise."""
    ranks = [PRIORITY_ORDER.index(Priority(base))]
    ranks += [PRIORITY_ORDER.index(r.priority) for r in rules if _priority_rule_matches(r, facts)]
    return PRIORITY_ORDER[max(ranks)]


def deadline_rule(policy: Policy, facts: CaseFacts) -> DeadlineRule | None:
    """The first rule whose conditions all hold (like routing), or None: no deadlines."""
    if policy.sla is None:
        return None
    for rule in policy.sla.deadlines:
        if rule.category and facts.category not in rule.category:
            continue
        if rule.priority and facts.priority not in rule.priority:
            continue
        if rule.department and facts.department not in rule.department:
            continue
        if rule.segment and (facts.segment or "").casefold() not in _folded(rule.segment):
            continue
        return rule
    return None


def business_hours(policy: Policy, case: HasDepartment) -> BusinessHours | None:
    spec = policy.department_of(case).business_hours
    return spec.to_domain() if spec else None


def due_dates(policy: Policy, case: CaseSnapshot) -> DueDates:
    """Every step is measured from when the feedback arrived: the customer has been waiting since."""
    rule = deadline_rule(policy, _facts(case))
    if rule is None:
        return DueDates()
    hours = business_hours(policy, case)
    start = case.created_at

    def due(length: timedelta | None) -> datetime | None:
        return add_working_time(start, as_working_time(length, hours), hours) if length is not None else None

    return DueDates(claim=due(rule.claim), first_contact=due(rule.first_contact), close=due(rule.close))


def step_due(case: CaseSnapshot, step: str) -> datetime | None:
    return {
        Step.CLAIM: case.claim_due_at,
        Step.FIRST_CONTACT: case.contact_due_at,
        Step.CLOSE: case.close_due_at,
    }[Step(step)]


def open_steps(case: CaseSnapshot) -> list[Step]:
    """Steps not yet done, in the order they fall due."""
    if case.status == CaseStatus.CLOSED:
        return []
    steps = []
    if case.owner_id is None:
        steps.append(Step.CLAIM)
    if case.contacted_at is None:
        steps.append(Step.FIRST_CONTACT)
    steps.append(Step.CLOSE)
    return steps


@dataclass(frozen=True)
class NextDeadline:
    step: Step
    due_at: datetime
    overdue: bool


def next_deadline(case: CaseSnapshot, now: datetime) -> NextDeadline | None:
    """The deadline the case message shows: the earliest missed one, else the next one ahead."""
    dated = [(step, due) for step in open_steps(case) if (due := step_due(case, step)) is not None]
    if not dated:
        return None
    missed = [(step, due) for step, due in dated if due <= now]
    step, due = min(missed or dated, key=lambda pair: pair[1])
    return NextDeadline(step, due, overdue=bool(missed))


def plan(policy: Policy, case: CaseSnapshot) -> list[DeadlineSpec]:
    """The reminders and escalations the case's current state calls for.

    Storage compares this with the rows it has: new ones are added, ones no longer called for
    (the step was done) are cancelled, and ones already sent are never added again. A closed
    case's only rows are the reminders that its customer is still owed a word (outer_loop)."""
    if case.status == CaseStatus.CLOSED:
        return promise_reminders(policy.outer_loop, case)
    if policy.sla is None:
        return []
    hours = business_hours(policy, case)
    second = policy.sla.escalation.second_level
    specs: list[DeadlineSpec] = []

    def chain(step: Step, due: datetime) -> None:
        specs.append(DeadlineSpec(DeadlineKind.ESCALATION, step, 1, None, due))
        if second is not None:
            later = add_working_time(due, as_working_time(second.after, hours), hours)
            specs.append(DeadlineSpec(DeadlineKind.ESCALATION, step, 2, None, later))

    for step in open_steps(case):
        due = step_due(case, step)
        if due is None:
            continue
        if step == Step.CLAIM:
            specs.append(DeadlineSpec(DeadlineKind.CLAIM_NUDGE, step, 0, None, due))
        chain(step, due)
    if case.owner_id is not None and case.close_due_at is not None:
        total = working_time_between(case.created_at, case.close_due_at, hours)
        owned_since = case.claimed_at or case.created_at
        for share in policy.sla.owner_reminders:
            at = add_working_time(case.created_at, total * share / 100, hours)
            if at > owned_since:  # a reminder for a point passed before they took it is noise
                specs.append(DeadlineSpec(DeadlineKind.OWNER_REMINDER, Step.CLOSE, share, case.owner_id, at))
    return specs


def _audience(row: DeadlineRecord) -> str:
    if row.kind == DeadlineKind.ESCALATION:
        return f"escalation-{row.level}"
    return row.kind


def decide(
    policy: Policy, case: CaseSnapshot, due_rows: Sequence[DeadlineRecord], now: datetime
) -> SweepDecision:
    """What to send for rows that came due. Re-checks the case first (a reminder for a step done
    meanwhile is dropped) and sends at most one message per audience, so a bot catching up after
    downtime sends the latest reminder, not a burst of stale ones."""
    planned = {spec.key for spec in plan(policy, case)}
    cancel = [row.id for row in due_rows if row.key not in planned]
    live = [row for row in due_rows if row.key in planned]
    supersede: list[int] = []
    fresh: list[DeadlineRecord] = []
    for row in live:
        late_reminder = row.kind == DeadlineKind.OWNER_REMINDER and (
            case.close_due_at is not None and case.close_due_at <= now
        )
        if late_reminder:  # past the close deadline a reminder is moot: the escalation speaks
            supersede.append(row.id)
        else:
            fresh.append(row)
    winners: dict[str, DeadlineRecord] = {}
    for row in sorted(fresh, key=lambda r: (r.due_at, STEP_ORDER.index(Step(r.step)))):
        earlier = winners.get(_audience(row))
        if earlier is not None:
            supersede.append(earlier.id)
        winners[_audience(row)] = row
    return SweepDecision(
        fire=tuple(_firing(policy, case, row) for row in winners.values()),
        supersede=tuple(supersede),
        cancel=tuple(cancel),
    )


def escalation_recipients(policy: Policy, case: HasDepartment, level: int) -> tuple[str, ...]:
    """Level 1: the managers of the case's department (`Policy.department_of`: the default one's
    when its own left the policy); level 2: the second level."""
    if level >= 2:
        second = policy.sla.escalation.second_level if policy.sla else None
        return tuple(second.notify) if second else ()
    return tuple(policy.department_of(case).managers)


def escalation_contacts(policy: Policy, case: HasDepartment) -> frozenset[str]:
    """Who may answer a case's escalations: whoever they are sent to, at either level."""
    return frozenset(escalation_recipients(policy, case, 1) + escalation_recipients(policy, case, 2))


def _firing(policy: Policy, case: CaseSnapshot, row: DeadlineRecord) -> Firing:
    due = step_due(case, row.step)
    due_text = due.isoformat() if due else None
    if row.kind == DeadlineKind.CLAIM_NUDGE:
        return Firing(row.id, EventKind.CLAIM_NUDGE, {"step": row.step, "due_at": due_text}, reply=True)
    if row.kind == DeadlineKind.PROMISE_REMINDER:
        return Firing(
            row.id,
            EventKind.PROMISE_REMINDED,
            {"reminder": row.level, "owner": row.recipient},
            reply=False,
            recipients=(row.recipient,) if row.recipient else (),
            dm_kind=DeliveryKind.PROMISE_DM,
        )
    if row.kind == DeadlineKind.OWNER_REMINDER:
        return Firing(
            row.id,
            EventKind.OWNER_REMINDED,
            {"share": row.level, "due_at": due_text, "owner": row.recipient},
            reply=False,
            recipients=(row.recipient,) if row.recipient else (),
            dm_kind=DeliveryKind.REMINDER_DM,
        )
    recipients = escalation_recipients(policy, case, row.level)
    return Firing(
        row.id,
        EventKind.ESCALATED,
        {"step": row.step, "level": row.level, "due_at": due_text, "recipients": list(recipients)},
        reply=True,
        recipients=recipients,
        dm_kind=DeliveryKind.ESCALATION_DM,
        refresh_message=True,
    )


class SlaPlanner:
    """The policy's deadlines, in the shape storage asks for when a case changes."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def due_dates(self, case: CaseSnapshot) -> DueDates:
        return due_dates(self.policy, case)

    def close_due_from(self, case: CaseSnapshot, start: datetime) -> datetime | None:
        """A reopened loop's new close deadline: the rule's time to close, counted from `start`."""
        rule = deadline_rule(self.policy, _facts(case))
        if rule is None or rule.close is None:
            return None
        hours = business_hours(self.policy, case)
        return add_working_time(start, as_working_time(rule.close, hours), hours)

    def plan(self, case: CaseSnapshot) -> list[DeadlineSpec]:
        return plan(self.policy, case)

    def working_time(self, case: CaseSnapshot, start: datetime, end: datetime) -> timedelta:
        """How long a step took (`/loop stats`): business time where the department has hours."""
        return working_time_between(start, end, business_hours(self.policy, case))
