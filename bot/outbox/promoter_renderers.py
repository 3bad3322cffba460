"""Renderers for the promoter's notice with its follow-ups: the notice itself (with its buttons)
and its coalesced edit.

Both read the follow-ups as they are at sending time (`FollowUpReader`), so however many
presses a refresh delivery stands for, one edit shows them all. `with_promoters` adds them to
a registry; the wiring hands that to the outbox worker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Protocol

from bot.domain.promoters import FollowUp, PromoterNotice
from bot.domain.vocabulary import DeliveryKind
from bot.outbox.renderers import Draft, Moot, Renderer, Rendering
from bot.outbox.sender import Edit, Post
from bot.slack.notices import promoter_notice

PROMOTER_KINDS = frozenset({DeliveryKind.NOTICE_REFRESH})


class FollowUpReader(Protocol):
    """Where the notice is and who followed it up (storage's `PromoterFollowUps`)."""

    def notice(self, feedback_id: int) -> PromoterNotice | None: ...
    def follow_ups(self, feedback_id: int) -> Sequence[FollowUp]: ...


def with_promoters(renderers: Mapping[str, Renderer], reader: FollowUpReader) -> Mapping[str, Renderer]:
    def notice(draft: Draft) -> Rendering:
        feedback_id = draft.delivery.feedback_id
        message = promoter_notice(
            draft.feedback, draft.policy, reader.follow_ups(feedback_id), feedback_id=feedback_id
        )
        return Post(draft.policy.department_of(draft.feedback).channel, message)

    def refresh(draft: Draft) -> Rendering:
        feedback_id = draft.delivery.feedback_id
        posted = reader.notice(feedback_id)
        if posted is None or posted.channel is None or posted.ts is None:
            return Moot("the notice is not in Slack yet; it shows the follow-ups when it goes")
        message = promoter_notice(
            draft.feedback, draft.policy, reader.follow_ups(feedback_id), feedback_id=feedback_id
        )
        return Edit(posted.channel, posted.ts, message)

    return MappingProxyType(
        {
            **renderers,
            DeliveryKind.NOTICE: Renderer(notice, after_case_message=False),
            DeliveryKind.NOTICE_REFRESH: Renderer(refresh, after_case_message=False),
        }
    )
