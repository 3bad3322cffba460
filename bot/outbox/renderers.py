"""What each kind of delivery becomes in Slack: where it goes and what it says.

One renderer per `DeliveryKind`, looked up in `RENDERERS`. A renderer answers with a `Post` (a
new message to a channel, a thread or a person), an `Edit` (a message rewritten in place), or a
reason not to send at all. So a new kind of message is one renderer and one registry line; the
worker and the sender carry out Posts and Edits and never ask which kind they came from.

The case message, the one message per case, is rendered here too (`case_message_rendering`):
a Post the first time, an Edit of the same message at every later version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from types import MappingProxyType
from typing import Protocol

from bot.domain.outbox_rules import moot_reason
from bot.domain.policy import HasDepartment, Policy
from bot.domain.records import CaseSnapshot, CustomerHistory, DeliveryRecord, EventRecord
from bot.domain.vocabulary import DeliveryKind
from bot.outbox.sender import Edit, Post
from bot.slack.case_message import FeedbackLike, Message, case_message
from bot.slack.deadline_text import (
    answer_outcome,
    assigned_dm,
    escalation_answered,
    escalation_dm,
    reminder_dm,
)
from bot.slack.notices import announcement, moved_notice, promoter_notice, thread_reply
from bot.slack.turnaround_text import closed_itself_reply, turnaround_announcement


class Response(FeedbackLike, HasDepartment, Protocol):
    """A survey response as a case-less delivery (a promoter's notice) renders it."""

    @property
    def external_id(self) -> str: ...


class Records(Protocol):
    """Where a draft reads what its delivery is about (the repository, in production)."""

    def event(self, event_id: int) -> EventRecord: ...
    def feedback(self, feedback_id: int) -> Response: ...


class Draft:
    """One delivery about to be rendered, and what its renderer may read. The event, the response
    and the case link each cost a query or a Slack call, so they are read only when asked for."""

    def __init__(
        self,
        delivery: DeliveryRecord,
        *,
        case: CaseSnapshot | None,
        policy: Policy,
        now: datetime,
        records: Records,
        links: Callable[[CaseSnapshot], str | None],
    ) -> None:
        self.delivery = delivery
        self.policy = policy
        self.now = now
        self._case = case
        self._records = records
        self._links = links

    @property
    def case(self) -> CaseSnapshot:
        if self._case is None:
            raise LookupError(f"{self.delivery.kind} {self.delivery.id} belongs to no case")
        return self._case

    @property
    def thread(self) -> tuple[str, str]:
        """(channel, ts) of the case message, which renderers `after_case_message` can count on."""
        case = self.case
        if case.slack_channel is None or case.slack_ts is None:
            raise LookupError(f"case #{case.id} has no message in Slack yet")
        return case.slack_channel, case.slack_ts

    @cached_property
    def event(self) -> EventRecord:
        if self.delivery.event_id is None:
            raise LookupError(f"{self.delivery.kind} {self.delivery.id} is about no event")
        return self._records.event(self.delivery.event_id)

    @cached_property
    def feedback(self) -> Response:
        return self._records.feedback(self.delivery.feedback_id)

    @cached_property
    def case_link(self) -> str | None:
        return self._links(self.case)

    def link_of(self, case: CaseSnapshot) -> str | None:
        """A link to any case's message, for a delivery that names several (a theme alert)."""
        return self._links(case)


@dataclass(frozen=True)
class Moot:
    """Not sent, and no longer owed: the case moved on while the delivery waited."""

    reason: str


@dataclass(frozen=True)
class Undeliverable:
    """Not sent, and never could be (no recipient, nothing to edit): given up at once."""

    reason: str


Rendering = Post | Edit | Moot | Undeliverable


@dataclass(frozen=True)
class Renderer:
    """`after_case_message`: goes only once the case message is in Slack (a reply needs its
    thread), and waits with it when the case's channel refuses; direct messages go regardless,
    and an escalation matters most exactly when the channel is broken."""

    render: Callable[[Draft], Rendering]
    after_case_message: bool = True


def case_message_rendering(
    case: CaseSnapshot, policy: Policy, now: datetime, history: CustomerHistory | None = None
) -> Post | Edit:
    """The case message: posted to its department's channel once, then edited in place."""
    message = case_message(case, policy, now, history)
    if case.slack_ts is None or case.slack_channel is None:
        return Post(policy.department_of(case).channel, message)
    return Edit(case.slack_channel, case.slack_ts, message)


def left_behind(case_id: int, channel: str, ts: str) -> Edit:
    """A case message posted just as its case moved to another department: made a pointer."""
    return Edit(channel, ts, moved_notice(case_id, None))


def _thread_reply(draft: Draft) -> Rendering:
    channel, ts = draft.thread
    return Post(channel, thread_reply(draft.event, draft.case, draft.policy), thread_ts=ts)


def _announcement(draft: Draft) -> Rendering:
    return Post(draft.policy.announcements.channel, announcement(draft.event, draft.case, draft.policy))


def _moved(draft: Draft) -> Rendering:
    """The old message of a re-routed case is edited to point to the new one (no buttons left)."""
    channel, ts = draft.event.details.get("old_channel"), draft.event.details.get("old_ts")
    if not channel or not ts:
        return Undeliverable("no old message to edit")
    return Edit(str(channel), str(ts), moved_notice(draft.case.id, draft.case.slack_channel))


def _promoter_notice(draft: Draft) -> Rendering:
    feedback = draft.feedback
    return Post(draft.policy.department_of(feedback).channel, promoter_notice(feedback, draft.policy))


def _direct(write: Callable[[Draft], Message]) -> Callable[[Draft], Rendering]:
    """A direct message to the delivery's recipient, re-checked at sending: it may have waited."""

    def render(draft: Draft) -> Rendering:
        recipient = draft.delivery.recipient
        if recipient is None:
            return Undeliverable("direct message without a recipient")
        moot = moot_reason(draft.delivery, draft.event, draft.case)
        if moot is not None:
            return Moot(moot)
        return Post(recipient, write(draft), direct=True)

    return render


def _escalation(draft: Draft) -> Message:
    return escalation_dm(draft.event, draft.case, draft.policy, draft.case_link)


def _reminder(draft: Draft) -> Message:
    return reminder_dm(draft.event, draft.case, draft.case_link, draft.policy)


def _assigned(draft: Draft) -> Message:
    return assigned_dm(draft.event, draft.case, draft.case_link, draft.now, draft.policy)


def _answered_dm(draft: Draft) -> Rendering:
    """An escalation DM that someone else answered: edited to say who, and how, without buttons.
    Where it is was written in the ANSWER_SHARED event, under this delivery's id."""
    details = draft.event.details
    spot = (details.get("messages") or {}).get(str(draft.delivery.id))
    if not isinstance(spot, list) or len(spot) != 2:
        return Undeliverable("no direct message to edit")
    outcome = answer_outcome(draft.event.actor, details)
    message = escalation_answered(draft.case, str(details.get("step")), outcome, draft.policy)
    return Edit(str(spot[0]), str(spot[1]), message)


def _turnaround(draft: Draft) -> Rendering:
    """A detractor won back, in the announcements channel, linking the earlier case's message
    (it waits for that message, like a shout-out; a closed case's is normally long posted)."""
    message = turnaround_announcement(draft.event, draft.case, draft.policy, draft.case_link, draft.now)
    return Post(draft.policy.announcements.channel, message)


def _closed_itself(draft: Draft) -> Rendering:
    channel, ts = draft.thread
    return Post(channel, closed_itself_reply(draft.case), thread_ts=ts)


RENDERERS: Mapping[str, Renderer] = MappingProxyType(
    {
        DeliveryKind.THREAD_REPLY: Renderer(_thread_reply),
        DeliveryKind.ANNOUNCEMENT: Renderer(_announcement),
        DeliveryKind.MOVED: Renderer(_moved),
        DeliveryKind.NOTICE: Renderer(_promoter_notice, after_case_message=False),
        DeliveryKind.ESCALATION_DM: Renderer(_direct(_escalation), after_case_message=False),
        DeliveryKind.REMINDER_DM: Renderer(_direct(_reminder), after_case_message=False),
        DeliveryKind.ASSIGNED_DM: Renderer(_direct(_assigned), after_case_message=False),
        DeliveryKind.ANSWERED_DM: Renderer(_answered_dm, after_case_message=False),
        DeliveryKind.TURNAROUND: Renderer(_turnaround),
        DeliveryKind.CLOSED_ITSELF: Renderer(_closed_itself),
    }
)
