"""The promise: a loop closed with "customer told: no" reminds its owner by direct message after
outer_loop.remind_after (2d here), on a moved clock, from deadline rows the sweep fires, until the
customer is told or the owner marks it Not needed."""

# ruff: noqa: F811 (the fixtures are imported from test_tell_customer)
from __future__ import annotations

import pytest

from bot.domain.vocabulary import DeadlineKind, DeadlineStatus, FollowUp
from tests.support import steps
from tests.test_tell_customer import NOT_TOLD, OWNER, mail_stack, send, smtp  # noqa: F401 (fixtures)

pytestmark = pytest.mark.backends("sqlite")


def closed_not_told(stack):
    case = steps.open_case(stack)
    steps.click(stack, OWNER, case, "case_claim")
    steps.close_case(stack, case, OWNER, NOT_TOLD)
    for view in stack.simulator.open_views(OWNER):  # "later": the owner cancels the follow-up form
        stack.simulator.workspace.close_view(view["id"])
    return stack.runtime.repository.get_case(case.id)


def reminders(stack):
    channel = stack.simulator.dm_channel(OWNER).id
    return [m for m in stack.simulator.messages(channel) if "has not been told" in m.text]


def promise_rows(stack, case):
    return [r for r in stack.runtime.deadlines.all_rows(case.id) if r.kind == DeadlineKind.PROMISE_REMINDER]


def test_the_owner_is_reminded_after_two_days_and_not_before(mail_stack, clock):
    case = closed_not_told(mail_stack)
    rows = promise_rows(mail_stack, case)
    assert [r.level for r in rows] == [1, 2, 3] and {r.recipient for r in rows} == {OWNER}
    clock.advance(days=1, hours=23)
    mail_stack.sweep_deadlines()
    assert reminders(mail_stack) == []
    clock.advance(hours=1, minutes=1)
    mail_stack.sweep_deadlines()
    (dm,) = reminders(mail_stack)
    assert f"case #{case.id}" in dm.text
    assert "case_tell_customer" in str(dm.blocks) and "case_follow_up_not_needed" in str(dm.blocks)
    mail_stack.sweep_deadlines()  # a second sweep sends nothing more
    assert len(reminders(mail_stack)) == 1
    clock.advance(days=2)
    mail_stack.sweep_deadlines()
    assert len(reminders(mail_stack)) == 2  # again after as long, until the customer hears


def test_not_needed_in_the_reminder_stops_the_reminders(mail_stack, clock):
    case = closed_not_told(mail_stack)
    clock.advance(days=2, minutes=1)
    mail_stack.sweep_deadlines()
    (dm,) = reminders(mail_stack)
    mail_stack.slack.click(OWNER, dm.channel, dm.ts, "case_follow_up_not_needed")
    mail_stack.settle()
    assert mail_stack.runtime.repository.get_case(case.id).follow_up == FollowUp.NOT_NEEDED
    assert {r.status for r in promise_rows(mail_stack, case)} == {
        DeadlineStatus.SENT,
        DeadlineStatus.CANCELLED,
    }
    channel = mail_stack.simulator.dm_channel(OWNER).id
    (answered,) = mail_stack.simulator.messages(channel)  # the reminder, edited: its job is done
    assert "marked not needed" in answered.text and "case_tell_customer" not in str(answered.blocks)
    clock.advance(days=10)
    mail_stack.sweep_deadlines()
    assert len(mail_stack.simulator.messages(channel)) == 1 and reminders(mail_stack) == []
    case = mail_stack.runtime.repository.get_case(case.id)
    blocks = str(mail_stack.simulator.message(case.slack_channel, case.slack_ts).blocks)
    assert "marked not needed" in blocks
    thread = mail_stack.simulator.thread(case.slack_channel, case.slack_ts)
    assert any("marked telling the customer as not needed" in m.text for m in thread)


def test_telling_the_customer_from_the_reminder_stops_the_reminders(mail_stack, smtp, clock):
    case = closed_not_told(mail_stack)
    clock.advance(days=2, minutes=1)
    mail_stack.sweep_deadlines()
    (dm,) = reminders(mail_stack)
    mail_stack.slack.click(OWNER, dm.channel, dm.ts, "case_tell_customer")
    mail_stack.settle()
    (form,) = mail_stack.simulator.open_views(OWNER)
    send(mail_stack, form, "We fixed it.")
    assert len(smtp.mailbox.received) == 1
    assert mail_stack.runtime.repository.get_case(case.id).follow_up == FollowUp.TOLD
    assert DeadlineStatus.PENDING not in {r.status for r in promise_rows(mail_stack, case)}
    clock.advance(days=10)
    mail_stack.sweep_deadlines()
    assert len(reminders(mail_stack)) == 1


def test_a_loop_closed_with_the_customer_told_owes_no_reminder(mail_stack, clock):
    case = steps.open_case(mail_stack)
    steps.click(mail_stack, OWNER, case, "case_claim")
    steps.close_case(mail_stack, case, OWNER)  # "customer told: yes"
    assert mail_stack.simulator.open_views(OWNER) == []  # no follow-up form either
    assert promise_rows(mail_stack, case) == []
    clock.advance(days=5)
    mail_stack.sweep_deadlines()
    assert reminders(mail_stack) == []


def test_a_reminder_queued_before_the_customer_was_told_is_not_sent(mail_stack, smtp, clock):
    """The reminder fired during a Slack outage; the owner told the customer meanwhile: when Slack
    is back the queued reminder is moot, not sent."""
    case = closed_not_told(mail_stack)
    clock.advance(days=2, minutes=1)
    mail_stack.simulator.inject_fault("conversations.open", status=500, times=10)
    mail_stack.simulator.inject_fault("chat.postMessage", status=500, times=10)
    mail_stack.sweep_deadlines()
    mail_stack.simulator.clear_faults()
    assert reminders(mail_stack) == []
    tell = mail_stack.runtime.services.tell_customer
    assert tell.send(case.id, OWNER, "Told them.").refusal is None
    mail_stack.settle()
    for _ in range(3):
        clock.advance(minutes=20)
        mail_stack.runtime.outbox_queue.request_sweep()
        mail_stack.settle()
    assert len(smtp.mailbox.received) == 1
    assert reminders(mail_stack) == []
