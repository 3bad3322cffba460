"""An escalation answered by one manager is shown as answered on everyone else's DM: the
others' Acknowledge / Reassign / Snooze controls are edited away, through the outbox."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.domain.vocabulary import EventKind
from storage.models import Delivery
from tests.support import steps

SMB = {"name": "Dana Scully", "account": "Acme Corp", "segment": "smb"}  # claim due in 2 h


def dms(stack, user):
    channel = stack.simulator.dm_channel(user)
    return channel.id, stack.simulator.messages(channel.id)


def has_controls(message) -> bool:
    return any(b["type"] == "actions" for b in message.blocks)


def escalated_to_both(stack, clock):
    """Maya (the department's manager) and, 4 h later, Carol (the second level) are asked."""
    case = steps.open_case(stack, customer=SMB)
    clock.advance(hours=2)
    stack.sweep_deadlines()
    clock.advance(hours=4)
    stack.sweep_deadlines()
    maya_dm, (maya,) = dms(stack, "U0MAYA")
    carol_dm, (carol,) = dms(stack, "U0CAROL")
    assert has_controls(maya) and has_controls(carol)
    return case, (maya_dm, maya), (carol_dm, carol)


def answered_dm_rows(stack):
    with stack.runtime.database.transaction() as session:
        rows = session.scalars(select(Delivery).where(Delivery.kind == "answered_dm"))
        return [(row.recipient, row.status) for row in rows]


@pytest.mark.backends("sqlite", "postgresql")
def test_an_acknowledgement_is_shown_on_the_other_recipients_dm(stack, clock):
    case, (maya_dm, maya), (carol_dm, carol) = escalated_to_both(stack, clock)
    stack.slack.click("U0MAYA", maya_dm, maya.ts, "escalation_ack")
    stack.settle()
    edited = stack.simulator.message(carol_dm, carol.ts)
    assert not has_controls(edited), "no live buttons left on the other DM"
    assert "<@U0MAYA> acknowledged this — the escalation stops here." in str(edited.blocks)
    assert not has_controls(stack.simulator.message(maya_dm, maya.ts))  # the clicker's, at once
    assert answered_dm_rows(stack) == [("U0CAROL", "sent")]  # one owed edit, made by the outbox
    shared = [e for e in stack.runtime.repository.history(case.id) if e.kind == EventKind.ANSWER_SHARED]
    assert [(e.actor, e.details["answer"]) for e in shared] == [("U0MAYA", "acknowledged")]
    assert stack.simulator.ephemerals("U0CAROL") == []


def test_a_snooze_and_a_reassignment_are_shown_too(stack, clock):
    case, (maya_dm, maya), (carol_dm, carol) = escalated_to_both(stack, clock)
    stack.slack.click("U0CAROL", carol_dm, carol.ts, "escalation_snooze", value="3600")
    stack.settle()
    assert "<@U0CAROL> snoozed this until" in str(stack.simulator.message(maya_dm, maya.ts).blocks)
    assert not has_controls(stack.simulator.message(maya_dm, maya.ts))
    clock.advance(hours=1)
    stack.sweep_deadlines()  # the snooze is over: Carol is asked again, in a new DM
    carol_dm, (_, again) = dms(stack, "U0CAROL")
    assert has_controls(again)
    stack.slack.click("U0CAROL", carol_dm, again.ts, "escalation_reassign", value="U0BOB")
    stack.settle()
    gave = "<@U0CAROL> gave the case to <@U0BOB>, who has been told."
    assert gave in str(stack.simulator.message(maya_dm, maya.ts).blocks)
    assert gave in str(stack.simulator.message(carol_dm, carol.ts).blocks)  # Carol's earlier DM
    assert stack.runtime.repository.get_case(case.id).owner_id == "U0BOB"


def test_a_refused_answer_changes_no_one_elses_dm(stack, clock):
    _, (maya_dm, maya), (carol_dm, carol) = escalated_to_both(stack, clock)
    stack.slack.click("U0MAYA", maya_dm, maya.ts, "escalation_ack")
    stack.settle()
    stack.slack.click("U0CAROL", carol_dm, carol.ts, "escalation_ack", message=carol)  # a stale screen
    stack.settle()
    (told,) = stack.simulator.ephemerals("U0CAROL")
    assert told.text == "<@U0MAYA> already acknowledged this."
    assert answered_dm_rows(stack) == [("U0CAROL", "sent")]  # nothing more owed
    assert "<@U0MAYA> acknowledged this" in str(stack.simulator.message(maya_dm, maya.ts).blocks)
