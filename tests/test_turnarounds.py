"""Turnarounds end to end against the simulated Slack: a detractor whose loop was closed comes back
as a promoter (a new response, or an update of the same one) and is celebrated once, crediting the
owner; an open case whose new score no longer calls for a follow-up closes itself quietly; the
deadlines of one that still does follow its new category."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.domain.records import CloseDetails
from bot.domain.vocabulary import DeadlineStatus, DeliveryKind
from bot.slack.refusals import words
from storage.db import Database
from storage.models import Deadline, Delivery, TurnaroundRow
from storage.repository import Repository
from tests.factories import CLOSE_FORM, feedback_and_triage, payload
from tests.support.race import race
from tests.support.steps import click, close_case, open_case

WINS = "C0WINS"
HOSTILE = "<!channel> <@U0EVIL> <https://evil.example|Invoice> & co"


def send(stack, **overrides):
    answer = stack.post_feedback(payload(**overrides))
    assert answer.status == 202, answer.body
    stack.settle()
    return answer.body


def closed_detractor(stack, clock, **overrides):
    """A detractor's case, closed (and so owned) by Alice half an hour later."""
    case = open_case(stack, **overrides)
    clock.advance(minutes=30)
    close_case(stack, case, "U0ALICE")
    return stack.runtime.repository.get_case(case.id)


def celebrations(stack) -> list[str]:
    return [m.text for m in stack.simulator.messages(WINS) if "went from" in m.text]


def rows(stack, model, *conditions):
    with stack.runtime.repository.database.transaction() as session:
        found = list(session.scalars(select(model).where(*conditions)))
        session.expunge_all()
        return found


def test_a_later_promoter_response_is_celebrated_once_crediting_the_earlier_owner(stack, clock):
    earlier = closed_detractor(stack, clock, score=2)
    assert len(stack.simulator.messages(WINS)) == 1  # the loop-closed shout-out
    clock.advance(days=12)
    later = send(stack, id="resp-2", score=9, comment="Much better now, thanks!")
    (text,) = celebrations(stack)
    assert text == "Dana Scully went from 2 to 9 after <@U0ALICE>'s follow-up in November"
    (post,) = [m for m in stack.simulator.messages(WINS) if "went from" in m.text]
    context = post.blocks[-1]["elements"][0]["text"]
    assert f"case #{earlier.id}>" in context and f"<#{earlier.slack_channel}>" in context
    assert "/archives/" in context  # the earlier case message, linked
    (row,) = rows(stack, TurnaroundRow)
    assert (row.earlier_case_id, row.later_feedback_id, row.owner_id) == (
        earlier.id,
        later["feedback_id"],
        "U0ALICE",
    )
    assert (row.from_score, row.to_score) == (2, 9)
    # The same promoter response sent again, and another promoter response later: still one.
    send(stack, id="resp-2", score=10, comment="Really much better")
    send(stack, id="resp-3", score=9)
    stack.runtime.outbox_queue.request_sweep()  # whatever is owed anywhere goes out
    stack.settle()
    assert len(celebrations(stack)) == 1
    assert len(rows(stack, TurnaroundRow)) == 1
    assert len(rows(stack, Delivery, Delivery.kind == DeliveryKind.TURNAROUND)) == 1


def test_a_promoter_from_another_customer_or_after_an_unfollowed_case_is_no_turnaround(stack, clock):
    closed_detractor(stack, clock)
    send(stack, id="resp-2", score=9, customer={"id": "cus-other", "name": "Fox Mulder"})
    send(stack, id="resp-3", score=8)  # a passive is no turnaround
    open_case(stack, id="resp-4", score=3, customer={"id": "cus-77", "name": "Walter"})
    send(stack, id="resp-5", score=10, customer={"id": "cus-77", "name": "Walter"})  # its case is open
    assert celebrations(stack) == []
    assert rows(stack, TurnaroundRow) == []


def test_an_update_of_the_same_response_after_the_close_is_a_turnaround(stack, clock):
    earlier = closed_detractor(stack, clock, score=3)
    clock.advance(days=2)
    send(stack, score=10)  # resp-1 again, now a promoter
    assert celebrations(stack) == ["Dana Scully went from 3 to 10 after <@U0ALICE>'s follow-up in November"]
    assert [r.earlier_case_id for r in rows(stack, TurnaroundRow)] == [earlier.id]


def test_hostile_customer_names_stay_inert_in_the_celebration(stack, clock):
    customer = {**payload()["customer"], "name": HOSTILE}
    closed_detractor(stack, clock, customer=customer)
    send(stack, id="resp-2", score=9, customer=customer)
    (post,) = [m for m in stack.simulator.messages(WINS) if "went from" in m.text]
    for shown in (post.text, post.blocks[0]["text"]["text"]):
        assert "&lt;!channel&gt; &lt;@U0EVIL&gt; &lt;https://evil.example|Invoice&gt; &amp; co" in shown
        assert "<!channel>" not in shown and "<@U0EVIL>" not in shown and "<https://evil" not in shown


def test_an_unclaimed_case_whose_new_score_needs_no_follow_up_closes_itself_quietly(stack, clock):
    case = open_case(stack, score=3)
    assert rows(stack, Deadline, Deadline.case_id == case.id, Deadline.status == DeadlineStatus.PENDING)
    clock.advance(minutes=20)
    send(stack, score=10)
    closed = stack.runtime.repository.get_case(case.id)
    assert (closed.status, closed.outcome, closed.owner_id, closed.closed_by) == (
        "closed",
        "resolved",
        None,
        None,
    )
    assert closed.close_note == "closed by closeloop: the customer's new score is 10, no follow-up is needed"
    assert stack.simulator.messages(WINS) == []  # no shout-out, no celebration
    assert rows(stack, TurnaroundRow) == []
    thread = stack.simulator.messages(case.slack_channel, include_replies=True)
    replies = [m.text for m in thread if m.thread_ts == case.slack_ts and m.ts != case.slack_ts]
    assert any("This case closed itself: the customer's new score is NPS 10/10" in r for r in replies)
    assert not rows(stack, Deadline, Deadline.case_id == case.id, Deadline.status == DeadlineStatus.PENDING)
    (message,) = [m for m in stack.simulator.messages(case.slack_channel) if m.ts == case.slack_ts]
    assert "*Status:* ✅ Loop closed'" in str(message.blocks) and "<@closeloop>" not in str(message.blocks)
    # A manager may reopen it: unowned, it is new again, with its claim deadline back.
    click(stack, "U0MAYA", closed, "case_reopen")
    reopened = stack.runtime.repository.get_case(case.id)
    assert (reopened.status, reopened.owner_id) == ("new", None)


def test_a_claimed_case_keeps_going_and_its_deadlines_follow_the_new_category(stack, clock):
    case = open_case(stack, score=3, customer={"id": "cus-9", "name": "Dana Scully"})  # not urgent
    click(stack, "U0ALICE", case, "case_claim")
    assert case.close_due_at == case.received_at + timedelta(days=3)  # a detractor's
    send(stack, score=7)
    passive = stack.runtime.repository.get_case(case.id)
    assert (passive.status, passive.category) == ("claimed", "passive")
    assert passive.close_due_at == case.received_at + timedelta(days=7)  # "everything else"
    pending = rows(stack, Deadline, Deadline.case_id == case.id, Deadline.status == DeadlineStatus.PENDING)
    assert max(d.due_at for d in pending) >= case.received_at + timedelta(days=7)


def test_promoter_responses_racing_from_several_processes_make_one_turnaround(database_url, policy, clock):
    setup = Database(database_url)
    repository = Repository(setup)
    case_id = repository.record_feedback(*feedback_and_triage(policy, score=2), clock()).case_id
    closed = repository.close(case_id, "U0ALICE", _close_details(), clock(), expected_owner=None)
    assert closed.applied
    setup.dispose()
    contenders = 6
    databases = [Database(database_url) for _ in range(contenders)]
    try:
        race(
            contenders,
            lambda i: Repository(databases[i]).record_feedback(
                *feedback_and_triage(policy, id=f"resp-later-{i}", score=9), clock()
            ),
        )
    finally:
        for db in databases:
            db.dispose()
    check = Database(database_url)
    try:
        with check.transaction() as session:
            turnarounds = list(session.scalars(select(TurnaroundRow.earlier_case_id)))
            owed = list(session.scalars(select(Delivery.id).where(Delivery.kind == DeliveryKind.TURNAROUND)))
    finally:
        check.dispose()
    assert turnarounds == [case_id]
    assert len(owed) == 1


def _close_details() -> CloseDetails:
    return CloseDetails(
        outcome=CLOSE_FORM["outcome"],
        contact_channel=CLOSE_FORM["contact_channel"],
        root_cause=CLOSE_FORM["root_cause"],
        remedy=CLOSE_FORM["remedy"],
        note=CLOSE_FORM["note"],
        customer_informed=True,
    )


def buttons_of(stack, case) -> list[str]:
    (message,) = [m for m in stack.simulator.messages(case.slack_channel) if m.ts == case.slack_ts]
    (actions,) = [b for b in message.blocks if b["type"] == "actions"]
    return [element["text"]["text"] for element in actions["elements"]]


def test_the_owner_closes_a_case_whose_customer_turned_promoter_as_won_back_in_one_click(stack, clock):
    case = open_case(stack, score=3)
    click(stack, "U0ALICE", case, "case_claim")
    assert "Close as won back" not in buttons_of(stack, case)
    clock.advance(hours=3)
    send(stack, score=10)
    turned = stack.runtime.repository.get_case(case.id)
    assert (turned.status, turned.category, turned.owner_id) == ("claimed", "promoter", "U0ALICE")
    assert "Close as won back" in buttons_of(stack, case)
    # Someone else may not: the owner is credited with it.
    stack.slack.click("U0BOB", case.slack_channel, case.slack_ts, "case_close_won_back")
    stack.settle()
    assert (
        stack.simulator.ephemerals("U0BOB")[-1].text == "Only the owner, <@U0ALICE>, can close as won back."
    )
    assert stack.runtime.repository.get_case(case.id).status == "claimed"
    click(stack, "U0ALICE", turned, "case_close_won_back")
    closed = stack.runtime.repository.get_case(case.id)
    assert (closed.status, closed.outcome, closed.closed_by) == ("closed", "resolved", "U0ALICE")
    assert (closed.root_cause, closed.remedy) == (None, None)
    assert closed.close_note == "won back: the customer's new score is 10"
    (row,) = rows(stack, TurnaroundRow)
    assert (row.earlier_case_id, row.owner_id, row.from_score, row.to_score) == (case.id, "U0ALICE", 3, 10)
    (shout,) = stack.simulator.messages(WINS)  # the close's own shout-out, a success
    assert shout.text.startswith("Loop closed by <@U0ALICE>") and shout.text.endswith("— Resolved")
    assert not rows(stack, Deadline, Deadline.case_id == case.id, Deadline.status == DeadlineStatus.PENDING)
    assert "Close as won back" not in buttons_of(stack, case)  # Reopen only
    # A second click that was on its way (a double click) changes nothing more.
    again = stack.runtime.services.cases.close_won_back(case.id, "U0ALICE")
    assert again.refusal is not None and words(again.refusal) == "This loop is already closed."
    stack.settle()
    assert len(rows(stack, TurnaroundRow)) == 1 and len(stack.simulator.messages(WINS)) == 1


def test_close_as_won_back_is_refused_when_the_customer_was_never_a_detractor_on_the_case(stack, clock):
    case = open_case(stack, score=7)  # a passive's case
    click(stack, "U0ALICE", case, "case_claim")
    send(stack, score=9)
    assert "Close as won back" in buttons_of(stack, case)
    click(stack, "U0ALICE", case, "case_close_won_back")
    assert stack.simulator.ephemerals("U0ALICE")[-1].text.startswith(
        "This customer has not turned from a detractor to a promoter on this case"
    )
    assert stack.runtime.repository.get_case(case.id).status == "claimed"
    assert rows(stack, TurnaroundRow) == []
