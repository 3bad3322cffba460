"""How deadlines read in Slack: the case message's deadline line, the thread replies of reminders
and escalations, and the direct messages that reminders and escalations send."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.domain.durations import format_duration
from bot.domain.policy import Policy
from bot.domain.records import CaseSnapshot, EventRecord
from bot.domain.vocabulary import EventKind, Step
from bot.slack import kit
from bot.slack.actions import ActionId, CaseRef, EscalationRef
from bot.slack.case_message import Message, contact_card, customer_line, deadline_line, headline, when
from bot.slack.labels import STEPS, label
from bot.slack.text import escaped_excerpt, quoted_excerpt

REASON_IN_THREAD = 600  # a hand-over's reason (at most 500 characters typed, more once escaped)
REASON_IN_DM = 1200


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _due_text(details: dict[str, Any]) -> str:
    due = _moment(details.get("due_at"))
    return when(due) if due else "earlier"


def department_mention(policy: Policy, case: CaseSnapshot) -> str:
    """Who a nudge pings: the department's user group, else its members, else its managers."""
    spec = policy.department_of(case)
    if spec.user_group:
        return f"<!subteam^{spec.user_group}>"
    people = spec.members or spec.managers
    return " ".join(f"<@{user}>" for user in people[:30])


def reminder_reply(event: EventRecord, case: CaseSnapshot, policy: Policy) -> str | None:
    """Thread replies for deadline events; None for events that are not about deadlines."""
    details = event.details
    step = label(STEPS, details.get("step"))
    who = f"<@{event.actor}>"
    if event.kind == EventKind.CLAIM_NUDGE:
        mention = department_mention(policy, case)
        ask = f"{mention} can someone take it?" if mention else "Can someone take it?"
        return f"⏰ Still unclaimed — it was due to be claimed by {_due_text(details)}. {ask}"
    if event.kind == EventKind.ESCALATED:
        level = details.get("level")
        whom = "the second-level contacts" if level == 2 else "the department's managers"
        told = f"{whom} were told" if details.get("recipients") else f"no one to tell ({whom} are not set)"
        return f"🔴 Overdue: {step} was due {_due_text(details)} — {told}."
    if event.kind == EventKind.ACKNOWLEDGED:
        return f"👀 {who} acknowledged the escalation ({step}) and is on it."
    if event.kind == EventKind.SNOOZED:
        return (
            f"😴 {who} snoozed the escalation ({step}) until {_due_text({'due_at': details.get('until')})}."
        )
    if event.kind == EventKind.REASSIGNED:
        before = f" (was <@{details['from']}>)" if details.get("from") else ""
        if details.get("reason"):  # a hand-over: staff text, escaped like a customer's
            why = escaped_excerpt(str(details["reason"]), REASON_IN_THREAD)
            verb = "handed this case over to" if details.get("from") else "assigned this case to"
            return f"🔀 {who} {verb} <@{details.get('to')}>{before}: “{why}”"
        return f"🔀 {who} reassigned this case to <@{details.get('to')}>{before}."
    return None


def _case_link(case: CaseSnapshot, permalink: str | None) -> str:
    if permalink:
        return f"<{permalink}|Open case #{case.id}>"
    return f"Case #{case.id} in <#{case.slack_channel}>" if case.slack_channel else f"Case #{case.id}"


def _summary(case: CaseSnapshot, policy: Policy | None = None) -> str:
    """With the policy: as a non-owner (a manager) may see it, masked if the policy says so."""
    return f"*{headline(case)}* — {customer_line(case, policy)}"


def _owner_buttons(case: CaseSnapshot) -> dict[str, Any]:
    value = CaseRef(case_id=case.id, version=case.version).encode()
    return kit.actions(
        "case_actions",
        kit.button("Log contact", ActionId.LOG_CONTACT, value),
        kit.button("Close loop", ActionId.CLOSE, value, style="primary"),
    )


def _for_the_owner(case: CaseSnapshot, policy: Policy) -> list[dict[str, Any]]:
    """A DM is private: with masking on, the owner gets the details the channel does not show."""
    return [kit.section(contact_card(case))] if policy.privacy.mask_contact_details else []


def reminder_dm(event: EventRecord, case: CaseSnapshot, permalink: str | None, policy: Policy) -> Message:
    due = _moment(event.details.get("due_at"))
    by = when(due) if due else "its deadline"
    text = f"⏳ Reminder: close the loop on case #{case.id} by {by}."
    blocks = [
        kit.section(f"{text}\n{_summary(case)}"),
        *_for_the_owner(case, policy),
        kit.context(_case_link(case, permalink)),
        _owner_buttons(case),
    ]
    return Message(text=text, blocks=blocks)


def assigned_dm(
    event: EventRecord, case: CaseSnapshot, permalink: str | None, now: datetime, policy: Policy
) -> Message:
    text = f"🔀 <@{event.actor}> gave you case #{case.id}."
    line = deadline_line(case, now)
    body = f"{text}\n{_summary(case)}" + (f"\n{line}" if line else "")
    reason = event.details.get("reason")
    if reason:  # a hand-over says why; staff text is escaped like a customer's
        body += f"\n*Why:*\n{quoted_excerpt(str(reason), REASON_IN_DM)}"
    blocks = [
        kit.section(body),
        *_for_the_owner(case, policy),
        kit.context(_case_link(case, permalink)),
        _owner_buttons(case),
    ]
    return Message(text=text, blocks=blocks)


def snooze_choices(policy: Policy) -> list[dict[str, Any]]:
    choices = policy.sla.escalation.snooze_choices if policy.sla else []
    return [kit.option(f"Snooze {format_duration(c)}", str(int(c.total_seconds()))) for c in choices]


def escalation_dm(event: EventRecord, case: CaseSnapshot, policy: Policy, permalink: str | None) -> Message:
    details = event.details
    step = Step(details.get("step", Step.CLOSE))
    owner = f"Owner: <@{case.owner_id}>" if case.owner_id else "Nobody has claimed it."
    text = f"🔴 Case #{case.id} is overdue: {label(STEPS, step)} was due {_due_text(details)}."
    level = details.get("level")
    ref = EscalationRef(case_id=case.id, step=step, level=level if isinstance(level, int) else 1)
    controls = [
        kit.button("Acknowledge", ActionId.ESCALATION_ACK, ref.encode(), style="primary"),
        kit.users_select("Reassign to…", ActionId.ESCALATION_REASSIGN),
    ]
    choices = snooze_choices(policy)
    if choices:
        controls.append(kit.static_select("Snooze…", choices, action_id=ActionId.ESCALATION_SNOOZE))
    blocks = [
        kit.section(f"{text}\n{_summary(case, policy)}\n{owner}"),
        kit.context(_case_link(case, permalink)),
        kit.actions(ref.block_id(), *controls),
    ]
    return Message(text=text, blocks=blocks)


def answer_outcome(by: str, answer: Mapping[str, Any]) -> str:
    """Who answered an escalation, and how: shown on every DM of it, so nobody answers twice."""
    how = answer.get("answer")
    if how == EventKind.REASSIGNED:
        return f"🔀 <@{by}> gave the case to <@{answer.get('to')}>, who has been told."
    if how == EventKind.SNOOZED:
        return f"😴 <@{by}> snoozed this until {_due_text({'due_at': answer.get('until')})}."
    return f"✅ <@{by}> acknowledged this — the escalation stops here."


def escalation_answered(case: CaseSnapshot, step: str, outcome: str, policy: Policy | None = None) -> Message:
    """What an escalation message becomes once someone has answered it from there: no buttons."""
    text = f"Case #{case.id} was overdue ({label(STEPS, step)})."
    blocks = [kit.section(f"{text}\n{_summary(case, policy)}"), kit.context(outcome)]
    return Message(text=f"{text} {outcome}", blocks=blocks)
