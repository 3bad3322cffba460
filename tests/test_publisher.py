"""Slack failing must never lose a case or post it twice: what is not sent stays owed in the
database and the next sweep sends it."""

from __future__ import annotations

import pytest

from bot.devkit.simulator import BOT_USER_ID
from tests.factories import CLOSE_FORM, payload
from tests.support.steps import click, open_case


def sweep(stack, clock):
    """The next sweep after any backoff (at most 15 minutes) has passed."""
    clock.advance(minutes=16)
    stack.runtime.outbox_queue.request_sweep()
    stack.settle()


def test_a_refused_post_is_retried_by_the_sweep_and_posted_once(stack, clock):
    stack.simulator.inject_fault("chat.postMessage", error="internal_error", times=1)
    answer = stack.post_feedback(payload())
    assert answer.status == 202  # intake never waits on Slack
    stack.settle()
    case = stack.runtime.repository.get_case(answer.body["case_id"])
    assert case.slack_ts is None
    sweep(stack, clock)
    case = stack.runtime.repository.get_case(case.id)
    assert case.slack_ts is not None
    assert len(stack.simulator.messages("C0SUPPORT")) == 1
    sweep(stack, clock)  # nothing more is owed: nothing more is sent
    assert len(stack.simulator.calls_to("chat.postMessage")) == 2  # the refused try and the post


# Both backends: one alert per problem is kept by a row lock and a unique key (storage/admin_alerts.py).
@pytest.mark.backends("sqlite", "postgresql")
def test_a_bot_missing_from_the_channel_is_explained_and_caught_up_after_the_invite(stack, clock, caplog):
    channel = stack.simulator.workspace.channel("C0BILLING")
    channel.members.discard(BOT_USER_ID)
    answer = stack.post_feedback(payload(comment="refund please"))
    stack.post_feedback(payload(id="another", comment="a refund for me too"))
    stack.settle()
    assert (
        "not_in_channel: invite the bot to the channel: type `/invite @closeloop` in <#C0BILLING>"
        in caplog.text
    )
    assert stack.simulator.messages("C0BILLING") == []
    # The policy's admin hears of it once, not once per stuck message.
    (alert,) = stack.simulator.messages(stack.simulator.dm_channel("U0OPS").id)
    assert "cannot post in <#C0BILLING>: not_in_channel" in alert.text
    # Inviting the bot (Slack then sends member_joined_channel) sends what was owed at once,
    # without waiting out the 15-minute retry.
    channel.members.add(BOT_USER_ID)
    stack.slack.event({"type": "member_joined_channel", "user": BOT_USER_ID, "channel": "C0BILLING"})
    stack.settle()
    posted = [m.metadata["event_payload"]["case_id"] for m in stack.simulator.messages("C0BILLING")]
    assert sorted(posted) == [answer.body["case_id"], answer.body["case_id"] + 1]


def test_rate_limited_posts_wait_for_the_next_sweep_without_duplicates(stack, clock):
    for number in range(7):  # the simulator allows a burst of 5 per channel, then 1/s
        assert stack.post_feedback(payload(id=f"burst-{number}")).status == 202
    stack.settle()
    assert len(stack.simulator.messages("C0SUPPORT")) == 5
    sweep(stack, clock)
    messages = stack.simulator.messages("C0SUPPORT")
    assert len(messages) == 7
    assert sorted(m.metadata["event_payload"]["case_id"] for m in messages) == list(range(1, 8))


def test_thread_replies_wait_for_their_case_message(stack, clock):
    stack.simulator.inject_fault("chat.postMessage", error="internal_error", times=1)
    answer = stack.post_feedback(payload(comment=None))
    stack.settle()
    stack.post_feedback(payload(comment="the comment, minutes later"))
    stack.settle()
    sweep(stack, clock)
    case = stack.runtime.repository.get_case(answer.body["case_id"])
    thread = stack.simulator.thread(case.slack_channel, case.slack_ts)
    assert "the comment, minutes later" in thread[0].blocks[1]["text"]["text"]
    assert len(thread) == 2 and "sent an update (comment)" in thread[1].text


def top_level(stack, channel):
    return [m for m in stack.simulator.messages(channel) if not m.thread_ts or m.thread_ts == m.ts]


def test_a_post_whose_answer_was_lost_is_found_not_repeated(stack, clock):
    # Slack posts the message, then the answer is lost (a 503 after the fact, twice).
    stack.simulator.inject_fault("chat.postMessage", status=503, applied=True, times=2)
    answer = stack.post_feedback(payload())
    stack.settle()
    sweep(stack, clock)
    sweep(stack, clock)
    (message,) = top_level(stack, "C0SUPPORT")
    case = stack.runtime.repository.get_case(answer.body["case_id"])
    assert case.slack_ts == message.ts
    assert len(stack.simulator.calls_to("conversations.history")) >= 1


def test_a_lost_thread_reply_answer_does_not_double_the_reply(stack, clock):
    case = open_case(stack)
    stack.simulator.inject_fault("chat.postMessage", error="internal_error", applied=True, times=1)
    click(stack, "U0ALICE", case, "case_claim")
    sweep(stack, clock)
    replies = stack.simulator.thread(case.slack_channel, case.slack_ts)[1:]
    assert [m.text for m in replies] == ["👤 <@U0ALICE> claimed this case."]


def test_one_refused_delivery_does_not_hold_back_the_next(stack, clock):
    case = open_case(stack)
    click(stack, "U0ALICE", case, "case_claim")
    click(stack, "U0ALICE", case, "case_close")
    (view,) = stack.simulator.open_views("U0ALICE")
    # The close's thread reply is refused for a non-transient reason; the shout-out still goes.
    stack.simulator.inject_fault("chat.postMessage", error="msg_too_long", times=1)
    stack.slack.submit_view(
        "U0ALICE",
        view["id"],
        {**CLOSE_FORM, "note": "Fixed."},
    )
    stack.settle()
    assert len(stack.simulator.messages("C0WINS")) == 1
    sweep(stack, clock)  # the refused reply is retried and now goes through, once
    texts = [m.text for m in stack.simulator.thread(case.slack_channel, case.slack_ts)[1:]]
    assert sum(t.startswith("✅ <@U0ALICE> closed the loop") for t in texts) == 1


def test_a_comment_that_routes_elsewhere_moves_an_untouched_case(stack, clock):
    first = stack.post_feedback(payload(comment=None))
    stack.settle()
    assert first.body["department"] == "support"
    clock.advance(minutes=3)
    second = stack.post_feedback(payload(comment="I was double charged, refund please"))
    stack.settle()
    assert second.body["case_id"] == first.body["case_id"] and second.body["department"] == "billing"
    (old,) = top_level(stack, "C0SUPPORT")
    assert old.text.startswith(f"➡️ Case #{first.body['case_id']} moved to <#C0BILLING>")
    assert not any(b["type"] == "actions" for b in old.blocks)  # no live buttons left behind
    (new,) = top_level(stack, "C0BILLING")
    assert "double charged" in str(new.blocks)
    case = stack.runtime.repository.get_case(first.body["case_id"])
    assert (case.department, case.slack_channel, case.slack_ts) == ("billing", "C0BILLING", new.ts)


def test_a_claimed_case_stays_where_it_is(stack, clock):
    first = stack.post_feedback(payload(comment=None))
    stack.settle()
    case = stack.runtime.repository.get_case(first.body["case_id"])
    click(stack, "U0ALICE", case, "case_claim")
    second = stack.post_feedback(payload(comment="refund please"))
    stack.settle()
    assert second.body["department"] == "support"
    assert top_level(stack, "C0BILLING") == []


def test_a_department_gone_from_the_policy_falls_back_to_the_default(stack, policy, clock):
    from bot.app.intake import parse_feedback
    from bot.domain.records import Triage

    gone = Triage(category="detractor", department="sales", priority="high", open_case=True, notify=False)
    outcome = stack.runtime.repository.record_feedback(
        parse_feedback(payload(id="old")), lambda _data: gone, clock()
    )
    stack.post_feedback(payload(id="new"))
    stack.settle()
    sweep(stack, clock)
    posted = sorted(m.metadata["event_payload"]["case_id"] for m in top_level(stack, "C0SUPPORT"))
    assert outcome.case_id in posted and len(posted) == 2


def test_a_stuck_case_waits_out_its_backoff_even_with_replies_owed(stack, clock, caplog):
    channel = stack.simulator.workspace.channel("C0BILLING")
    channel.members.discard(BOT_USER_ID)
    answer = stack.post_feedback(payload(comment="refund please"))
    stack.settle()
    stack.runtime.services.cases.claim(answer.body["case_id"], "U0OMAR")  # now a reply is owed too
    stack.settle()
    tried = len(stack.simulator.calls)
    for _ in range(5):  # sweeps every 20 s, well inside the 15-minute wait for an admin's fix
        clock.advance(seconds=20)
        stack.runtime.outbox_queue.request_sweep()
        stack.settle()
    assert len(stack.simulator.calls) == tried, "Slack was asked again before the backoff was over"
    errors = [r for r in caplog.records if r.levelname == "ERROR" and "not_in_channel" in r.getMessage()]
    assert len(errors) == 1  # then warnings: one error per problem a day, like the admin DM


def test_a_case_message_deleted_in_slack_is_posted_again(stack, clock):
    case = open_case(stack)
    stack.simulator.workspace.delete(case.slack_channel, case.slack_ts)  # someone deleted it
    stack.runtime.services.cases.claim(case.id, "U0ALICE")
    stack.settle()
    (message,) = top_level(stack, "C0SUPPORT")
    assert message.ts != case.slack_ts and "Claimed by <@U0ALICE>" in str(message.blocks)
    assert stack.runtime.repository.get_case(case.id).slack_ts == message.ts
