"""The Slack side of telling the customer: a follow-up's thread reply and the direct messages to
its owner (the reminder of the promise; a follow-up that failed or is uncertain).
`with_follow_ups` adds them to a registry; the wiring hands that to the outbox worker."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from bot.domain.outer_loop import OWING, reminder_recipient
from bot.domain.vocabulary import CaseStatus, DeliveryKind, FollowUp
from bot.outbox.renderers import Draft, Moot, Renderer, Rendering, Undeliverable
from bot.outbox.sender import Post
from bot.slack.tell_customer import follow_up_dm, follow_up_reply, promise_dm


def _reply(draft: Draft) -> Rendering:
    channel, ts = draft.thread
    return Post(channel, follow_up_reply(draft.event, draft.case), thread_ts=ts)


def _promise(draft: Draft) -> Rendering:
    """Re-checked at sending: the customer may have been told while the reminder waited."""
    case = draft.case
    recipient = draft.delivery.recipient
    if recipient is None:
        return Undeliverable("direct message without a recipient")
    if case.status != CaseStatus.CLOSED or case.follow_up not in OWING:
        return Moot("the customer was told, or it was marked not needed, before this could be sent")
    if reminder_recipient(case) != recipient:
        return Moot("the case has another owner now")
    return Post(recipient, promise_dm(case, draft.case_link, case.closed_at), direct=True)


def _fate(draft: Draft) -> Rendering:
    case = draft.case
    recipient = draft.delivery.recipient
    if recipient is None:
        return Undeliverable("direct message without a recipient")
    if case.status != CaseStatus.CLOSED or case.follow_up not in (FollowUp.FAILED, FollowUp.UNCERTAIN):
        return Moot("the follow-up was settled before this could be sent")
    return Post(recipient, follow_up_dm(draft.event, case, draft.case_link), direct=True)


FOLLOW_UP_KINDS = frozenset(
    {DeliveryKind.FOLLOW_UP_REPLY, DeliveryKind.PROMISE_DM, DeliveryKind.FOLLOW_UP_DM}
)


def with_follow_ups(renderers: Mapping[str, Renderer]) -> Mapping[str, Renderer]:
    return MappingProxyType(
        {
            **renderers,
            DeliveryKind.FOLLOW_UP_REPLY: Renderer(_reply),
            DeliveryKind.PROMISE_DM: Renderer(_promise, after_case_message=False),
            DeliveryKind.FOLLOW_UP_DM: Renderer(_fate, after_case_message=False),
        }
    )
