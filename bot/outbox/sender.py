"""The outbox's Slack Web API calls: posting, editing, opening a direct message, and finding an
earlier post again after an answer was lost.

Knows Slack and its pace (posts per channel, edits per workspace), not the database: what must
be recorded around a send is the worker's (it passes `before_send`). Holds no state of its own
beyond the pacer, which is thread-safe, so the worker's threads share one sender. Each 429 is
counted by method (`rate_limited`) and makes the pacer hold what Slack refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.domain.records import CaseSnapshot, DeliveryRecord
from bot.outbox.failures import classify
from bot.outbox.pacing import ChannelPacer
from bot.slack.case_message import METADATA_EVENT, Message

log = logging.getLogger(__name__)

DELIVERY_EVENT = "closeloop_delivery"
LOOKUP_PAGES = 10  # of 200 messages: a channel busier than that since the post is not searched further


@dataclass(frozen=True)
class Post:
    """A new message: to a channel, into a thread of it, or (`direct`) to a person's DM with the bot,
    `to` then being their user id (one pace per person, whatever the DM's id)."""

    to: str
    message: Message
    thread_ts: str | None = None
    direct: bool = False


@dataclass(frozen=True)
class Edit:
    """An existing message rewritten in place; an edit cannot double, so it needs no lookup."""

    channel: str
    ts: str
    message: Message


@dataclass(frozen=True)
class Mark:
    """What our message carries in its metadata, so that it can be found again after a send whose
    outcome is unknown; `since` bounds the search (it cannot be older than what caused it)."""

    event_type: str
    key: str
    value: int
    since: datetime | None

    @classmethod
    def of_case(cls, case: CaseSnapshot) -> Mark:
        return cls(METADATA_EVENT, "case_id", case.id, case.created_at)

    @classmethod
    def of_delivery(cls, delivery: DeliveryRecord) -> Mark:
        return cls(DELIVERY_EVENT, "delivery_id", delivery.id, delivery.created_at)

    @property
    def metadata(self) -> dict[str, Any]:
        return {"event_type": self.event_type, "event_payload": {self.key: self.value}}

    @property
    def pace_key(self) -> str:
        """The pacer books a slot under this, so the work that was put off gets it back."""
        return f"{self.key}:{self.value}"

    def matches(self, message: dict[str, Any]) -> bool:
        metadata = message.get("metadata") or {}
        payload = metadata.get("event_payload") or {}
        return metadata.get("event_type") == self.event_type and payload.get(self.key) == self.value


@dataclass(frozen=True)
class Sent:
    """Where the message is: `channel` is the conversation (a DM's id for a direct message);
    `found` when an earlier attempt had posted it after all."""

    channel: str
    ts: str
    found: bool = False


class SlackSender:
    def __init__(
        self,
        client: WebClient,
        pacer: ChannelPacer | None = None,
        *,
        rate_limited: Callable[[str], None] = lambda _method: None,
    ) -> None:
        self.client = client
        self.pacer = pacer or ChannelPacer()
        self.rate_limited = rate_limited  # told the Web API method of each 429

    def post_once(
        self, post: Post, mark: Mark, *, tried_before: bool, before_send: Callable[[], None]
    ) -> Sent:
        """Post, unless an earlier attempt (`tried_before`) is found to have posted already.

        Paces first, which may raise `MustWait` with nothing sent; then `before_send` records the
        attempt, so that a crash or timeout from here on is known to be uncertain. The message
        carries `mark`, which is what a later lookup searches for."""
        if tried_before:
            where = self.open_direct(post.to) if post.direct else post.to
            ts = self.find_posted(where, mark, thread_ts=post.thread_ts)
            if ts is not None:
                return Sent(where, ts, found=True)
        self.pacer.before_post(post.to, mark.pace_key)
        before_send()
        return self._post(post, mark)

    def _post(self, post: Post, mark: Mark) -> Sent:
        channel = post.to
        try:
            response = self.client.chat_postMessage(
                channel=channel,
                text=post.message.text,
                blocks=post.message.blocks,
                thread_ts=post.thread_ts,
                metadata=mark.metadata,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            retry_after = classify(exc, channel).retry_after
            if retry_after is not None:  # Slack limits posts per channel: hold this one, not others
                self.rate_limited("chat.postMessage")
                self.pacer.hold(channel, retry_after, first=mark.pace_key)
            raise
        self.pacer.posted(channel)
        return Sent(str(response["channel"]), str(response["ts"]))

    def update(
        self,
        edit: Edit,
        *,
        urgent: bool = False,
        paced: bool = True,
        before_send: Callable[[], None] | None = None,
    ) -> None:
        """Edit a message at the workspace's pace for edits (raising `MustWait` with nothing sent);
        `urgent` for an edit a person's click caused, which may use the burst kept for clicks."""
        if paced:
            self.pacer.before_edit(urgent=urgent)
        if before_send is not None:
            before_send()
        try:
            self.client.chat_update(
                channel=edit.channel, ts=edit.ts, text=edit.message.text, blocks=edit.message.blocks
            )
        except SlackApiError as exc:
            retry_after = classify(exc, edit.channel).retry_after
            if retry_after is not None:  # Tier 3 is the workspace's: every edit waits
                self.rate_limited("chat.update")
                self.pacer.hold_edits(retry_after)
            raise

    def tell(self, user: str, text: str) -> None:
        """A plain direct message (an admin alert): neither paced nor marked, since nothing is
        owed for it and a lost one is not retried."""
        self.client.chat_postMessage(channel=user, text=text)

    def open_direct(self, user: str) -> str:
        """The id of the bot's DM with `user`: history is read by conversation id, not user id."""
        opened = self.client.conversations_open(users=user)
        return str(opened["channel"]["id"])

    def find_posted(self, channel: str, mark: Mark, *, thread_ts: str | None) -> str | None:
        """The ts of our earlier message carrying `mark`, if one exists.

        Asked only after a send whose outcome is unknown (a timeout, a 5xx, a crash after
        sending), so a retry never posts the same thing twice. Reads back to `mark.since`, page
        by page, so a busy channel does not hide it."""
        cursor: str | None = None
        for _ in range(LOOKUP_PAGES):
            arguments: dict[str, Any] = {"channel": channel, "limit": 200, "include_all_metadata": True}
            if cursor:
                arguments["cursor"] = cursor
            if mark.since is not None:
                arguments["oldest"] = f"{mark.since.timestamp() - 60:.6f}"  # a minute of clock skew
            if thread_ts is None:
                response = self.client.conversations_history(**arguments)
            else:
                response = self.client.conversations_replies(ts=thread_ts, **arguments)
            for message in response.get("messages") or []:
                if mark.matches(message):
                    return str(message["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not response.get("has_more") or not cursor:
                return None
        log.warning(
            "gave up looking for %s %s after %s pages of %s", mark.key, mark.value, LOOKUP_PAGES, channel
        )
        return None
