"""Plain-text rendering of what people would see in Slack, for the demo and for readable assertions.

mrkdwn entities are resolved the way the Slack client shows them, and escaped text (`&lt;`) comes
out as the literal characters, so a test can tell "the bot escaped `<!channel>`" (visible text)
from "the bot pinged the channel" (`@channel`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from bot.devkit.simulator.models import BOT_USER_ID
from bot.devkit.simulator.workspace import Workspace

if TYPE_CHECKING:
    from bot.devkit.simulator.simulator import SlackSimulator

RULE = "─" * 40
INDENT = "    "
_ENTITY = re.compile(r"<([^<>]+)>")
_SPECIAL = {"here": "@here", "channel": "@channel", "everyone": "@everyone"}


def _workspace(source: SlackSimulator | Workspace) -> Workspace:
    return source if isinstance(source, Workspace) else source.workspace


def mrkdwn_to_text(text: str, workspace: Workspace) -> str:
    """Resolve `<@U1>`, `<#C1>`, `<!here>`, `<url|label>`, show `>` quotes and unescape `&lt; &gt; &amp;`."""

    def entity(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target.startswith("@"):
            user = workspace.users.get(target[1:])
            return f"@{label or (user.real_name if user else target[1:])}"
        if target.startswith("#"):
            channel = workspace.channels.get(target[1:])
            return f"#{label or (channel.name if channel else target[1:])}"
        if target.startswith("!"):
            name = target[1:]
            if name.startswith("subteam^"):
                return label or f"@{name.removeprefix('subteam^')}"
            return _SPECIAL.get(name, label or f"@{name}")
        return f"{label} ({target})" if label else target

    with workspace.lock:
        resolved = _ENTITY.sub(entity, text)
    # a raw ">" opening a line is a block quote; an escaped "&gt;" is just the character
    quoted = "\n".join(
        f"│ {line[1:].lstrip()}" if line.startswith(">") else line for line in resolved.split("\n")
    )
    return quoted.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class _BlockRenderer:
    """Turns blocks into lines; one small method per block type, looked up by name."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def text(self, obj: object) -> str:
        if not isinstance(obj, dict):
            return ""
        text = str(obj.get("text", ""))
        return mrkdwn_to_text(text, self.workspace) if obj.get("type") == "mrkdwn" else text

    def element(self, element: dict[str, Any]) -> str:
        kind = element.get("type")
        if kind == "button":
            return f"[ {self.text(element.get('text'))} ]"
        if kind in ("plain_text", "mrkdwn"):
            return self.text(element)
        if kind == "image":
            return f"[image: {element.get('alt_text', '')}]"
        if kind == "overflow":
            return "[ … ]"
        label = self.text(element.get("placeholder")) or str(kind)
        return f"[ {label} ▾ ]"

    def blocks(self, blocks: list[dict[str, Any]]) -> list[str]:
        lines: list[str] = []
        for block in blocks:
            render: Callable[[dict[str, Any]], list[str]] | None = getattr(
                self, f"_{block.get('type')}", None
            )
            lines += render(block) if render else [f"[{block.get('type')} block]"]
        return lines

    def _header(self, block: dict[str, Any]) -> list[str]:
        return [self.text(block.get("text")).upper()]

    def _section(self, block: dict[str, Any]) -> list[str]:
        lines = self.text(block.get("text")).splitlines() if block.get("text") else []
        lines += [line for field in block.get("fields", []) for line in self.text(field).splitlines()]
        if isinstance(block.get("accessory"), dict):
            lines.append(self.element(block["accessory"]))
        return lines

    def _context(self, block: dict[str, Any]) -> list[str]:
        return ["  ·  ".join(self.element(e) for e in block.get("elements", []))]

    def _actions(self, block: dict[str, Any]) -> list[str]:
        return ["  ".join(self.element(e) for e in block.get("elements", []))]

    def _divider(self, block: dict[str, Any]) -> list[str]:
        return [RULE]

    def _image(self, block: dict[str, Any]) -> list[str]:
        return [self.element(block)]

    def _input(self, block: dict[str, Any]) -> list[str]:
        return [f"{self.text(block.get('label'))}: {self.element(block.get('element') or {})}"]

    def _rich_text(self, block: dict[str, Any]) -> list[str]:
        return ["".join(_rich_text_parts(block.get("elements", []), self.workspace))]


def _rich_text_parts(elements: list[Any], workspace: Workspace) -> list[str]:
    parts: list[str] = []
    for element in elements:
        if not isinstance(element, dict):
            continue
        if element.get("type") == "text":
            parts.append(str(element.get("text", "")))
        elif element.get("type") == "user":
            user = workspace.users.get(str(element.get("user_id")))
            parts.append(f"@{user.real_name if user else element.get('user_id')}")
        elif element.get("type") == "link":
            parts.append(str(element.get("text") or element.get("url", "")))
        elif isinstance(element.get("elements"), list):
            parts += _rich_text_parts(element["elements"], workspace)
    return parts


def _clock_time(ts: str, tz: tzinfo) -> str:
    return datetime.fromtimestamp(float(ts), tz).strftime("%H:%M")


def _body(workspace: Workspace, text: str, blocks: list[dict[str, Any]]) -> list[str]:
    if blocks:
        return _BlockRenderer(workspace).blocks(blocks)
    return mrkdwn_to_text(text, workspace).splitlines() or [""]


def _author(workspace: Workspace, user_id: str) -> str:
    user = workspace.users.get(user_id)
    if user is None:
        return user_id
    return f"{user.name} [APP]" if user.is_bot else user.real_name


def render_message(
    sim: SlackSimulator | Workspace, channel_id: str, ts: str, *, reply: bool = False, tz: tzinfo = UTC
) -> str:
    """One message: a `[time] author (edited)` line and its content; replies get an indented arrow."""
    ws = _workspace(sim)
    message = ws.message(channel_id, ts)
    first, rest = (f"{INDENT}↳ ", f"{INDENT}    ") if reply else ("", "  ")
    edited = " (edited)" if message.edited_ts else ""
    lines = [f"{first}[{_clock_time(message.ts, tz)}] {_author(ws, message.user)}{edited}"]
    lines += [f"{rest}{line}" for line in _body(ws, message.text, message.blocks)]
    return "\n".join(lines)


def render_channel(
    sim: SlackSimulator | Workspace, channel_id: str, *, include_threads: bool = True, tz: tzinfo = UTC
) -> str:
    """The channel as a person reads it: messages in order, thread replies indented below them."""
    ws = _workspace(sim)
    with ws.lock:
        channel = ws.channel(channel_id)
        title = f"DM with {_author(ws, channel.im_user or '')}" if channel.is_im else f"#{channel.name}"
        out = [f"── {title} ".ljust(len(RULE), "─")]
        for message in ws.messages(channel.id):
            out.append(render_message(ws, channel.id, message.ts, tz=tz))
            replies = ws.replies(channel.id, message.ts)
            if replies and include_threads:
                out += [render_message(ws, channel.id, r.ts, reply=True, tz=tz) for r in replies]
            elif replies:
                out.append(f"{INDENT}↳ {len(replies)} replies")
    return "\n".join(out)


def render_ephemerals(sim: SlackSimulator | Workspace, user_id: str, *, tz: tzinfo = UTC) -> str:
    """Messages only `user_id` saw ("Only visible to you"), with the channel they appeared in."""
    ws = _workspace(sim)
    out = []
    with ws.lock:
        for ephemeral in ws.ephemerals(user_id):
            channel = ws.channel(ephemeral.channel)
            when = _clock_time(ephemeral.ts, tz)
            out.append(f"[{when}] {_author(ws, BOT_USER_ID)} in #{channel.name} (only visible to you)")
            out += [f"  {line}" for line in _body(ws, ephemeral.text, ephemeral.blocks)]
    return "\n".join(out)


def render_dms(sim: SlackSimulator | Workspace, user_id: str, *, tz: tzinfo = UTC) -> str:
    """The direct-message conversation between the bot and `user_id`."""
    ws = _workspace(sim)
    return render_channel(ws, ws.open_im(user_id).id, tz=tz)
