"""The "You said, we did" summary's renderer: one post in a department's channel, read when it
is sent (`ShippedStore.summary`), so its counts are those of the settled announcement."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol

from bot.domain.vocabulary import DeliveryKind
from bot.outbox.renderers import Draft, Moot, Renderer, Rendering
from bot.outbox.sender import Post
from bot.slack.shipped import summary_message
from storage.shipped import Summary

SHIPPED_KINDS = frozenset({DeliveryKind.SHIPPED_SUMMARY})


class SummaryReader(Protocol):
    def summary(self, delivery_id: int) -> Summary | None: ...


def with_shipped(renderers: Mapping[str, Renderer], reader: SummaryReader) -> Mapping[str, Renderer]:
    def summary(draft: Draft) -> Rendering:
        found = reader.summary(draft.delivery.id)
        if found is None:
            return Moot("no announcement owes this summary")
        names = [d.name for d in draft.policy.departments]
        channel = (
            draft.policy.department(found.department).channel
            if found.department in names
            else draft.policy.announcements.channel  # the department left the policy meanwhile
        )
        return Post(channel, summary_message(found.label, found.author, found.tally))

    return MappingProxyType(
        {**renderers, DeliveryKind.SHIPPED_SUMMARY: Renderer(summary, after_case_message=False)}
    )
