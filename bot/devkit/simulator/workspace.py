"""In-memory state of the simulated workspace: people, channels, messages, views and one-time tokens.

Everything the Web API, the driver and the renderer share lives here behind one re-entrant lock,
so concurrent bot threads see Slack-like consistency (a message is either posted or not).
Messages, ephemerals and views are handed out as snapshots: a test that keeps one holds the
version a user saw, and changes go through methods taking ids. Lookups that fail raise
`SlackError` with the code real Slack would answer.
"""

from __future__ import annotations

import copy
import itertools
import secrets
import threading
import time
from typing import Any

from bot.devkit.simulator.errors import SlackError
from bot.devkit.simulator.file_store import FileStore
from bot.devkit.simulator.models import (
    BOT_NAME,
    BOT_USER_ID,
    MAX_VIEW_STACK,
    RESPONSE_URL_TTL_SECONDS,
    RESPONSE_URL_USES,
    TRIGGER_TTL_SECONDS,
    Channel,
    Clock,
    Ephemeral,
    Message,
    ResponsePost,
    ResponseUrl,
    Revision,
    Trigger,
    User,
    View,
)
from bot.devkit.simulator.stored_blocks import with_slack_ids


def _stored(view: dict[str, Any]) -> dict[str, Any]:
    """A view as Slack keeps it: a private copy whose blocks all have block_ids (state is keyed by them)."""
    stored = copy.deepcopy(view)
    if isinstance(stored.get("blocks"), list):
        stored["blocks"] = with_slack_ids(stored["blocks"])
    return stored


class Workspace:
    """The workspace's state; every public method is atomic, `lock` allows compound operations."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or time.time
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self._messages: dict[str, list[Message]] = {}
        self._ephemerals: list[Ephemeral] = []
        self._views: dict[str, View] = {}
        self._stacks: dict[str, list[str]] = {}
        self._home: dict[str, str] = {}
        self._triggers: dict[str, Trigger] = {}
        self._response_urls: dict[str, ResponseUrl] = {}
        self.responses: list[ResponsePost] = []
        self.files = FileStore()
        self._last_micros = 0
        self._ids = itertools.count(1)
        self.add_user(BOT_USER_ID, BOT_NAME, BOT_NAME, is_bot=True)

    # --- people and channels -------------------------------------------------------------

    def add_user(
        self, user_id: str, name: str, real_name: str, *, is_bot: bool = False, email: str | None = None
    ) -> User:
        with self.lock:
            user = User(user_id, name, real_name, is_bot=is_bot, email=email)
            self.users[user_id] = user
            return user

    def add_channel(self, channel_id: str, name: str, *, members: set[str]) -> Channel:
        with self.lock:
            channel = Channel(channel_id, name, set(members))
            self.channels[channel_id] = channel
            self._messages.setdefault(channel_id, [])
            return channel

    def user(self, user_id: str) -> User:
        with self.lock:
            if user_id not in self.users:
                raise SlackError("user_not_found")
            return self.users[user_id]

    def channel(self, channel_id: str) -> Channel:
        """Resolve a channel as chat.postMessage does: an id, a `#name`, or a user id (the bot's DM)."""
        with self.lock:
            if channel_id in self.channels:
                return self.channels[channel_id]
            if channel_id.startswith(("U", "W")) and channel_id in self.users:
                return self.open_im(channel_id)
            name = channel_id.removeprefix("#")
            named = (c for c in self.channels.values() if not c.is_im and c.name == name)
            found = next(named, None)
            if found is None:
                raise SlackError("channel_not_found")
            return found

    def open_im(self, user_id: str) -> Channel:
        with self.lock:
            self.user(user_id)
            for channel in self.channels.values():
                if channel.is_im and channel.im_user == user_id:
                    return channel
            channel = Channel(f"D{user_id[1:]}", user_id, {BOT_USER_ID, user_id}, is_im=True, im_user=user_id)
            self.channels[channel.id] = channel
            self._messages[channel.id] = []
            return channel

    # --- messages ------------------------------------------------------------------------

    def next_ts(self) -> str:
        """A Slack-style timestamp from the clock, strictly increasing even if the clock stands still."""
        with self.lock:
            micros = max(int(self.clock() * 1_000_000), self._last_micros + 1)
            self._last_micros = micros
            return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def post(
        self,
        channel_id: str,
        user: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        *,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> Message:
        with self.lock:
            channel = self.channel(channel_id)
            if thread_ts is not None:
                parent = self._message(channel.id, thread_ts)
                thread_ts = parent.thread_ts or parent.ts
            message = Message(
                channel.id, self.next_ts(), user, text, copy.deepcopy(blocks or []), thread_ts, metadata
            )
            message.files = copy.deepcopy(files or [])
            self._messages[channel.id].append(message)
            return copy.deepcopy(message)

    def _message(self, channel_id: str, ts: str) -> Message:
        for message in self._messages.get(self.channel(channel_id).id, []):
            if message.ts == ts:
                return message
        raise SlackError("message_not_found")

    def message(self, channel_id: str, ts: str) -> Message:
        with self.lock:
            return copy.deepcopy(self._message(channel_id, ts))

    def edit(
        self,
        channel_id: str,
        ts: str,
        *,
        text: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Message:
        """Replace a message's content, keeping the previous version in its history."""
        with self.lock:
            message = self._message(channel_id, ts)
            edit_ts = self.next_ts()
            message.history.append(Revision(message.text, message.blocks, edit_ts))
            if text is not None:
                message.text = text
            if blocks is not None:
                message.blocks = copy.deepcopy(blocks)
            if metadata is not None:
                message.metadata = metadata
            message.edited_ts = edit_ts
            return copy.deepcopy(message)

    def delete(self, channel_id: str, ts: str) -> None:
        with self.lock:
            message = self._message(channel_id, ts)
            self._messages[message.channel].remove(message)

    def messages(self, channel_id: str, *, include_replies: bool = False) -> list[Message]:
        """Messages oldest first; top-level only unless `include_replies`."""
        with self.lock:
            everything = self._messages.get(self.channel(channel_id).id, [])
            return [copy.deepcopy(m) for m in everything if include_replies or not m.is_reply]

    def replies(self, channel_id: str, thread_ts: str) -> list[Message]:
        """Thread replies (without the parent), oldest first."""
        with self.lock:
            everything = self._messages.get(self.channel(channel_id).id, [])
            return [copy.deepcopy(m) for m in everything if m.is_reply and m.thread_ts == thread_ts]

    def add_ephemeral(
        self,
        channel_id: str,
        user: str,
        text: str,
        blocks: list[dict[str, Any]],
        thread_ts: str | None = None,
    ) -> Ephemeral:
        with self.lock:
            channel = self.channel(channel_id)
            ephemeral = Ephemeral(channel.id, user, self.next_ts(), text, copy.deepcopy(blocks), thread_ts)
            self._ephemerals.append(ephemeral)
            return copy.deepcopy(ephemeral)

    def _ephemeral(self, channel_id: str, user_id: str, ts: str) -> Ephemeral | None:
        channel = self.channel(channel_id)
        matches = (e for e in self._ephemerals if (e.channel, e.user, e.ts) == (channel.id, user_id, ts))
        return next(matches, None)

    def find_ephemeral(self, channel_id: str, user_id: str, ts: str) -> Ephemeral | None:
        with self.lock:
            return copy.deepcopy(self._ephemeral(channel_id, user_id, ts))

    def replace_ephemeral(
        self, channel_id: str, user_id: str, ts: str, *, text: str, blocks: list[dict[str, Any]]
    ) -> None:
        with self.lock:
            ephemeral = self._ephemeral(channel_id, user_id, ts)
            if ephemeral is None:
                raise SlackError("message_not_found")
            ephemeral.text, ephemeral.blocks = text, copy.deepcopy(blocks)

    def remove_ephemeral(self, channel_id: str, user_id: str, ts: str) -> None:
        with self.lock:
            ephemeral = self._ephemeral(channel_id, user_id, ts)
            if ephemeral is None:
                raise SlackError("message_not_found")
            self._ephemerals.remove(ephemeral)

    def ephemerals(self, user_id: str | None = None) -> list[Ephemeral]:
        with self.lock:
            return [copy.deepcopy(e) for e in self._ephemerals if user_id is None or e.user == user_id]

    # --- views ---------------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        with self.lock:
            return f"{prefix}0SIM{next(self._ids):05d}"

    def open_view(
        self, user_id: str, view: dict[str, Any], *, trigger_id: str | None, on_top_of: str | None = None
    ) -> View:
        """Open a modal as a new root, or push it onto the stack holding `on_top_of` (three deep at most).

        Each root is its own stack: a user with two Slack clients can have two modals open.
        """
        with self.lock:
            stack = self._stack_of(on_top_of) if on_top_of else []
            if on_top_of and not stack:
                raise SlackError("not_found")
            if len(stack) >= MAX_VIEW_STACK:
                raise SlackError("push_limit_reached")
            record = View(
                self.new_id("V"), user_id, _stored(view), secrets.token_hex(8), trigger_id=trigger_id
            )
            if stack:
                record.root_view_id, record.previous_view_id = stack[0], stack[-1]
                stack.append(record.id)
            else:
                self._stacks[record.id] = [record.id]
            self._views[record.id] = record
            return copy.deepcopy(record)

    def _stack_of(self, view_id: str) -> list[str]:
        """The open stack a modal is in (live list), or an empty list if it is not open."""
        return next((stack for stack in self._stacks.values() if view_id in stack), [])

    def publish_home(self, user_id: str, view: dict[str, Any]) -> View:
        with self.lock:
            self.user(user_id)
            if user_id in self._home:
                return self.replace_view(self._home[user_id], view)
            record = View(self.new_id("V"), user_id, _stored(view), secrets.token_hex(8))
            self._views[record.id] = record
            self._home[user_id] = record.id
            return copy.deepcopy(record)

    def _view(self, view_id: str | None, external_id: str | None = None) -> View:
        if view_id:
            record = self._views.get(view_id)
        else:
            matches = (
                v for v in self._views.values() if external_id and v.view.get("external_id") == external_id
            )
            record = next(matches, None)
        if record is None:
            raise SlackError("not_found")
        return record

    def view(self, view_id: str | None = None, *, external_id: str | None = None) -> View:
        with self.lock:
            return copy.deepcopy(self._view(view_id, external_id))

    def replace_view(self, view_id: str, view: dict[str, Any]) -> View:
        with self.lock:
            record = self._view(view_id)
            record.view = _stored(view)
            record.hash = secrets.token_hex(8)
            return copy.deepcopy(record)

    def close_view(self, view_id: str, *, whole_stack: bool = False) -> None:
        """Close a modal; like Slack, closing one closes the views pushed on top of it too."""
        with self.lock:
            record = self._view(view_id)
            stack = self._stack_of(record.id)
            cut = 0 if whole_stack or not stack else stack.index(record.id)
            for stacked_id in stack[cut:] or [record.id]:
                self._views[stacked_id].is_open = False
            del stack[cut:]
            self._stacks = {root: views for root, views in self._stacks.items() if views}

    def views(self, user_id: str | None = None, *, open_only: bool = True) -> list[View]:
        with self.lock:
            return [
                copy.deepcopy(v)
                for v in self._views.values()
                if (user_id is None or v.user_id == user_id) and (v.is_open or not open_only)
            ]

    def home_view(self, user_id: str) -> View | None:
        with self.lock:
            view_id = self._home.get(user_id)
            return copy.deepcopy(self._views[view_id]) if view_id else None

    # --- one-time tokens -----------------------------------------------------------------

    def issue_trigger(self, user_id: str, *, view_id: str | None = None) -> str:
        with self.lock:
            trigger_id = f"{next(self._ids)}.{int(self.clock())}.{secrets.token_hex(12)}"
            self._triggers[trigger_id] = Trigger(trigger_id, user_id, self.clock(), view_id)
            return trigger_id

    def exchange_trigger(self, trigger_id: object) -> Trigger:
        """Use up a trigger id; Slack allows one use within 3 s of the interaction that made it."""
        with self.lock:
            trigger = self._triggers.get(trigger_id) if isinstance(trigger_id, str) else None
            if trigger is None:
                raise SlackError("invalid_trigger_id")
            if trigger.used:
                raise SlackError("exchanged_trigger_id")
            if self.clock() - trigger.issued_at >= TRIGGER_TTL_SECONDS:
                raise SlackError("expired_trigger_id")
            trigger.used = True
            return copy.deepcopy(trigger)

    def issue_response_url(
        self, user_id: str, channel_id: str, message_ts: str | None, *, ephemeral: bool = False
    ) -> ResponseUrl:
        with self.lock:
            response = ResponseUrl(
                secrets.token_hex(10), user_id, channel_id, message_ts, self.clock(), ephemeral
            )
            self._response_urls[response.id] = response
            return response

    def use_response_url(self, response_id: str) -> ResponseUrl:
        """Count one use of a response_url; Slack allows five within thirty minutes."""
        with self.lock:
            response = self._response_urls.get(response_id)
            if response is None:
                raise SlackError("invalid_url")
            if self.clock() - response.issued_at > RESPONSE_URL_TTL_SECONDS:
                raise SlackError("expired_url")
            if response.uses >= RESPONSE_URL_USES:
                raise SlackError("used_url")
            response.uses += 1
            return response
