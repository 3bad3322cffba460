"""Slack failing must never lose a case or post it twice: what is not sent stays owed in the
database and the next sweep sends it."""

from __future__ import annotations

from bot.simulator import BOT_USER_ID
from tests.factories import payload


def sweep(stack):
    stack.runtime.queue.request_sweep()
    stack.settle()


def test_a_refused_post_is_retried_by_the_sweep_and_posted_once(stack):
    stack.simulator.inject_fault("chat.postMessage", error="internal_error", times=1)
    answer = stack.post_feedback(payload())
    assert answer.status == 202  # intake never waits on Slack
    stack.settle()
    case = stack.runtime.services.repository.get_case(answer.body["case_id"])
    assert case.slack_ts is None
    sweep(stack)
    case = stack.runtime.services.repository.get_case(case.id)
    assert case.slack_ts is not None
    assert len(stack.simulator.messages("C0SUPPORT")) == 1
    sweep(stack)  # nothing more is owed: nothing more is sent
    assert len(stack.simulator.calls_to("chat.postMessage")) == 2  # the refused try and the post


def test_a_bot_missing_from_the_channel_is_explained_and_caught_up_after_the_invite(stack, caplog):
    channel = stack.simulator.workspace.channel("C0BILLING")
    channel.members.discard(BOT_USER_ID)
    answer = stack.post_feedback(payload(comment="refund please"))
    stack.settle()
    assert (
        "not_in_channel: invite the bot to the channel: type `/invite @closeloop` in <#C0BILLING>"
        in caplog.text
    )
    assert stack.simulator.messages("C0BILLING") == []
    channel.members.add(BOT_USER_ID)
    sweep(stack)
    (message,) = stack.simulator.messages("C0BILLING")
    assert message.metadata["event_payload"]["case_id"] == answer.body["case_id"]


def test_rate_limited_posts_wait_for_the_next_sweep_without_duplicates(stack, clock):
    for number in range(7):  # the simulator allows a burst of 5 per channel, then 1/s
        assert stack.post_feedback(payload(id=f"burst-{number}")).status == 202
    stack.settle()
    assert len(stack.simulator.messages("C0SUPPORT")) == 5
    clock.advance(seconds=3)
    sweep(stack)
    messages = stack.simulator.messages("C0SUPPORT")
    assert len(messages) == 7
    assert sorted(m.metadata["event_payload"]["case_id"] for m in messages) == list(range(1, 8))


def test_thread_replies_wait_for_their_case_message(stack):
    stack.simulator.inject_fault("chat.postMessage", error="internal_error", times=1)
    answer = stack.post_feedback(payload(comment=None))
    stack.settle()
    stack.post_feedback(payload(comment="the comment, minutes later"))
    stack.settle()
    sweep(stack)
    case = stack.runtime.services.repository.get_case(answer.body["case_id"])
    thread = stack.simulator.thread(case.slack_channel, case.slack_ts)
    assert "the comment, minutes later" in thread[0].blocks[1]["text"]["text"]
    assert len(thread) == 2 and "sent an update (comment)" in thread[1].text
