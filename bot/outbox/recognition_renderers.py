"""Renderers for the shout-out's applause: the shout-out itself (with its kudos and buttons), its
coalesced edit, and a leader's note in its thread and in the closer's DMs.

They read the kudos as they are at sending time (`ApplauseReader`), so however many presses a
refresh delivery stands for, one edit shows them all. `with_recognition` adds them to a
registry; the wiring hands that to the outbox worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol

from bot.domain.recognition import Applause, Shoutout
from bot.domain.vocabulary import DeliveryKind
from bot.outbox.renderers import Draft, Moot, Renderer, Rendering, Undeliverable
from bot.outbox.sender import Edit, Post
from bot.slack.notices import announcement
from bot.slack.recognition import recognition_dm, recognition_reply

RECOGNITION_KINDS = frozenset(
    {DeliveryKind.ANNOUNCEMENT_REFRESH, DeliveryKind.RECOGNITION_REPLY, DeliveryKind.RECOGNITION_DM}
)


class ApplauseReader(Protocol):
    """Where the shout-out is and who applauded it (storage's `RecognitionStore`)."""

    def shoutout(self, case_id: int) -> Shoutout | None: ...
    def applause(self, case_id: int) -> Applause: ...


def with_recognition(renderers: Mapping[str, Renderer], reader: ApplauseReader) -> Mapping[str, Renderer]:
    def shout(draft: Draft) -> Rendering:
        message = announcement(draft.event, draft.case, draft.policy, reader.applause(draft.case.id))
        return Post(draft.policy.announcements.channel, message)

    def refresh(draft: Draft) -> Rendering:
        posted = reader.shoutout(draft.case.id)
        if posted is None:
            return Moot("the shout-out is not in Slack yet; it shows the kudos when it goes")
        if posted.event_id != draft.delivery.event_id:
            return Moot("a newer shout-out of this case shows the kudos")
        message = announcement(draft.event, draft.case, draft.policy, reader.applause(draft.case.id))
        return Edit(posted.channel, posted.ts, message)

    def note_in_thread(draft: Draft) -> Rendering:
        channel, ts = draft.event.details.get("channel"), draft.event.details.get("ts")
        if not channel or not ts:
            return Undeliverable("no shout-out to reply to")
        return Post(str(channel), recognition_reply(draft.event), thread_ts=str(ts))

    def note_to_closer(draft: Draft) -> Rendering:
        if draft.delivery.recipient is None:
            return Undeliverable("direct message without a recipient")
        return Post(draft.delivery.recipient, recognition_dm(draft.event, draft.case_link), direct=True)

    return MappingProxyType(
        {
            **renderers,
            DeliveryKind.ANNOUNCEMENT: Renderer(shout),
            DeliveryKind.ANNOUNCEMENT_REFRESH: Renderer(refresh, after_case_message=False),
            DeliveryKind.RECOGNITION_REPLY: Renderer(note_in_thread, after_case_message=False),
            DeliveryKind.RECOGNITION_DM: Renderer(note_to_closer, after_case_message=False),
        }
    )
