"""The outbox's renderer registry: each delivery kind is one renderer saying where it goes (a post,
an edit, or a reason not to send), and a new kind needs no change to the worker or the sender."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.domain.outbox_rules import moot_reason
from bot.domain.records import DeliveryRecord, EventRecord
from bot.domain.vocabulary import DeliveryKind, DeliveryStatus
from bot.outbox.mail_renderers import FOLLOW_UP_KINDS
from bot.outbox.promoter_renderers import PROMOTER_KINDS
from bot.outbox.recognition_renderers import RECOGNITION_KINDS
from bot.outbox.renderers import (
    RENDERERS,
    Draft,
    Moot,
    Renderer,
    Undeliverable,
    case_message_rendering,
)
from bot.outbox.sender import Edit, Post
from bot.outbox.shipped_renderer import SHIPPED_KINDS
from bot.outbox.theme_alert_renderer import THEME_ALERT_KINDS
from bot.slack.case_message import Message
from storage.models import Delivery
from tests.factories import case_snapshot
from tests.support.steps import open_case

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


class Records:
    def __init__(self, event: EventRecord) -> None:
        self.events = {event.id: event}
        self.asked: list[int] = []

    def event(self, event_id: int) -> EventRecord:
        self.asked.append(event_id)
        return self.events[event_id]

    def feedback(self, feedback_id: int):
        raise AssertionError("a case's delivery does not read the response")


def event(kind: str = "claimed", **details) -> EventRecord:
    return EventRecord(7, 1, NOW, "U0ALICE", kind, details)


def delivery(kind: DeliveryKind, recipient: str | None = None) -> DeliveryRecord:
    return DeliveryRecord(3, kind, 1, 1, 7, 0, recipient, NOW)


def render(policy, kind, case, the_event, recipient=None):
    draft = Draft(
        delivery(kind, recipient),
        case=case,
        policy=policy,
        now=NOW,
        records=Records(the_event),
        links=lambda _case: "https://example.slack.com/archives/C0SUPPORT/p1000100",
    )
    return RENDERERS[kind].render(draft)


def test_every_delivery_kind_has_a_renderer(stack):
    """The registry the wiring hands the worker: the applause kinds need a reader of kudos, so
    they are added there (`bot.outbox.recognition_renderers`), not in the bare RENDERERS."""
    added = RECOGNITION_KINDS | PROMOTER_KINDS | THEME_ALERT_KINDS | FOLLOW_UP_KINDS | SHIPPED_KINDS
    assert set(RENDERERS) | added == set(DeliveryKind)
    assert set(stack.runtime.outbox_worker.renderers) == set(DeliveryKind)


def test_only_direct_messages_go_before_the_case_message():
    independent = {kind for kind, renderer in RENDERERS.items() if not renderer.after_case_message}
    assert independent == {
        DeliveryKind.ESCALATION_DM,
        DeliveryKind.REMINDER_DM,
        DeliveryKind.ASSIGNED_DM,
        DeliveryKind.NOTICE,  # case-less: there is no case message to wait for
        DeliveryKind.ANSWERED_DM,  # an edit of an escalation DM
    }


def test_a_direct_message_is_moot_once_the_case_moved_on():
    reminder = delivery(DeliveryKind.REMINDER_DM, "U0ALICE")
    owned = case_snapshot(owner_id="U0ALICE", status="claimed")
    assert moot_reason(reminder, event(), owned) is None
    assert moot_reason(reminder, event(), case_snapshot(owner_id="U0BOB")) == "the case has another owner now"
    closed = case_snapshot(owner_id="U0ALICE", status="closed")
    assert moot_reason(reminder, event(), closed) == "the case was closed before this could be sent"
    escalation = delivery(DeliveryKind.ESCALATION_DM, "U0MAYA")
    assert moot_reason(escalation, event(step="claim"), case_snapshot()) is None
    assert (
        moot_reason(escalation, event(step="claim"), owned) == "the step was done before this could be sent"
    )


def test_a_direct_message_goes_to_its_recipient_unless_moot_or_addressed_to_nobody(policy):
    owned = case_snapshot(owner_id="U0ALICE", status="claimed")
    post = render(policy, DeliveryKind.REMINDER_DM, owned, event(), recipient="U0ALICE")
    assert isinstance(post, Post) and (post.to, post.direct, post.thread_ts) == ("U0ALICE", True, None)
    assert "p1000100" in str(post.message.blocks)  # the case link
    moved_on = render(policy, DeliveryKind.REMINDER_DM, owned, event(), recipient="U0BOB")
    assert moved_on == Moot("the case has another owner now")
    nobody = render(policy, DeliveryKind.ASSIGNED_DM, owned, event(), recipient=None)
    assert nobody == Undeliverable("direct message without a recipient")


def test_a_thread_reply_goes_into_the_case_thread(policy):
    post = render(policy, DeliveryKind.THREAD_REPLY, case_snapshot(), event())
    assert isinstance(post, Post) and (post.to, post.thread_ts, post.direct) == (
        "C0SUPPORT",
        "1.000100",
        False,
    )
    assert post.message.text == "👤 <@U0ALICE> claimed this case."


def test_the_moved_delivery_is_an_edit_of_the_old_message(policy):
    moved = case_snapshot(department="billing", slack_channel="C0BILLING", slack_ts="2.000200")
    edit = render(policy, DeliveryKind.MOVED, moved, event("rerouted", old_channel="C0SUPPORT", old_ts="1.1"))
    assert isinstance(edit, Edit) and (edit.channel, edit.ts) == ("C0SUPPORT", "1.1")
    assert edit.message.text.startswith("➡️ Case #1 moved to <#C0BILLING>")
    nothing = render(policy, DeliveryKind.MOVED, moved, event("rerouted"))
    assert nothing == Undeliverable("no old message to edit")


def test_the_case_message_is_posted_once_then_edited(policy):
    first = case_message_rendering(case_snapshot(slack_channel=None, slack_ts=None), policy, NOW)
    assert isinstance(first, Post) and first.to == policy.department("support").channel
    gone = case_snapshot(department="sales", slack_channel=None, slack_ts=None)  # not in the policy now
    fallback = case_message_rendering(gone, policy, NOW)
    assert isinstance(fallback, Post)
    assert fallback.to == policy.department(policy.routing.default_department).channel
    later = case_message_rendering(case_snapshot(version=2), policy, NOW)
    assert isinstance(later, Edit) and (later.channel, later.ts) == ("C0SUPPORT", "1.000100")


def test_a_new_kind_of_message_is_one_renderer_and_one_registry_line(stack, clock):
    """The worker sends, records and retries a kind it has never heard of, given its renderer."""
    case = open_case(stack)

    def thanks(draft: Draft) -> Post:
        channel, ts = draft.thread
        return Post(channel, Message(text="🙏 thanks", blocks=[]), thread_ts=ts)

    worker = stack.runtime.outbox_worker
    worker.renderers = {**RENDERERS, "thanks": Renderer(thanks)}
    event_id = worker.repository.history(case.id)[-1].id
    with stack.runtime.database.transaction() as session:
        row = Delivery(
            kind="thanks",
            case_id=case.id,
            feedback_id=case.feedback_id,
            event_id=event_id,
            status=DeliveryStatus.PENDING,
            created_at=clock(),
        )
        session.add(row)
    assert worker.deliver_case(case.id)
    thread = stack.simulator.thread(case.slack_channel, case.slack_ts)
    assert [m.text for m in thread[1:]] == ["🙏 thanks"]
    with stack.runtime.database.transaction() as session:
        (status,) = session.scalars(select(Delivery.status).where(Delivery.kind == "thanks"))
    assert status == DeliveryStatus.SENT
