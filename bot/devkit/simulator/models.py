"""The records the simulated workspace keeps, each able to render itself the way the Web API does.

Identifiers and limits of the simulated team live here too, so every module names them the same.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Clock = Callable[[], float]

TEAM_ID = "T0SIM"
TEAM_DOMAIN = "closeloop-sim"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0SIM"
APP_ID = "A0SIM"
BOT_NAME = "closeloop"
PERMALINK_ROOT = "https://sim.slack.local"
TRIGGER_TTL_SECONDS = 3.0
RESPONSE_URL_USES = 5
RESPONSE_URL_TTL_SECONDS = 30 * 60
MAX_VIEW_STACK = 3


@dataclass
class User:
    id: str
    name: str
    real_name: str
    is_bot: bool = False
    tz: str = "Europe/Berlin"
    # profile.email, which Slack shows only to an app with the users:read.email scope.
    email: str | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "real_name": self.real_name,
            "deleted": False,
            "is_bot": self.is_bot,
            "tz": self.tz,
            "tz_label": "Central European Time",
            "tz_offset": 3600,
            "profile": {
                "real_name": self.real_name,
                "real_name_normalized": self.real_name,
                "display_name": self.name,
                "display_name_normalized": self.name,
                **({"email": self.email} if self.email else {}),
            },
        }


@dataclass
class Channel:
    id: str
    name: str
    members: set[str] = field(default_factory=set)
    is_im: bool = False
    im_user: str | None = None

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_im,
            "is_private": False,
            "is_im": self.is_im,
            "is_member": BOT_USER_ID in self.members,
            "num_members": len(self.members),
        }
        if self.im_user:
            data["user"] = self.im_user
        return data


@dataclass(frozen=True)
class Revision:
    """One earlier state of an edited message, kept so tests can see what users saw before."""

    text: str
    blocks: list[dict[str, Any]]
    replaced_at: str


@dataclass
class Message:
    channel: str
    ts: str
    user: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    metadata: dict[str, Any] | None = None
    history: list[Revision] = field(default_factory=list)
    edited_ts: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)  # shared by files.completeUploadExternal

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_api(
        self, *, include_metadata: bool = True, replies: list[Message] | None = None
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"type": "message", "ts": self.ts, "user": self.user, "text": self.text}
        if self.user == BOT_USER_ID:
            data.update(bot_id=BOT_ID, app_id=APP_ID)
        data["team"] = TEAM_ID
        if self.blocks:
            data["blocks"] = copy.deepcopy(self.blocks)
        if self.thread_ts:
            data["thread_ts"] = self.thread_ts
        if replies:
            data.update(reply_count=len(replies), latest_reply=replies[-1].ts, thread_ts=self.ts)
        if self.edited_ts:
            data["edited"] = {"user": self.user, "ts": self.edited_ts}
        if include_metadata and self.metadata:
            data["metadata"] = copy.deepcopy(self.metadata)
        if self.files:
            data.update(files=copy.deepcopy(self.files), upload=True)
        return data


@dataclass
class Ephemeral:
    channel: str
    user: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None


@dataclass
class View:
    id: str
    user_id: str
    view: dict[str, Any]
    hash: str
    is_open: bool = True
    trigger_id: str | None = None
    root_view_id: str | None = None
    previous_view_id: str | None = None

    @property
    def type(self) -> str:
        return str(self.view.get("type", "modal"))

    def to_api(self, state: dict[str, Any] | None = None) -> dict[str, Any]:
        """The view as Slack returns it from views.* and sends it in interaction payloads."""
        view = copy.deepcopy(self.view)
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "type": self.type,
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": state or {}},
            "hash": self.hash,
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": self.previous_view_id,
            "root_view_id": self.root_view_id or self.id,
            "app_id": APP_ID,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }


@dataclass
class Trigger:
    """A trigger_id: whose interaction made it, and the view it came from (views.push needs one)."""

    id: str
    user_id: str
    issued_at: float
    view_id: str | None = None
    used: bool = False


@dataclass
class ResponseUrl:
    """Where a bot may answer an interaction: tied to the user, channel and (for clicks) the message."""

    id: str
    user_id: str
    channel_id: str
    message_ts: str | None
    issued_at: float
    ephemeral: bool = False
    uses: int = 0


@dataclass(frozen=True)
class ResponsePost:
    response_id: str
    payload: dict[str, Any]
    at: float
