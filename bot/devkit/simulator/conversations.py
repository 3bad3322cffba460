"""auth.test, conversations.* and users.info: what a bot reads about the workspace."""

from __future__ import annotations

from typing import Any

from bot.devkit.simulator.context import Handler, MethodContext, Params, flag, integer, optional, required
from bot.devkit.simulator.errors import SlackError
from bot.devkit.simulator.models import (
    BOT_ID,
    BOT_NAME,
    BOT_USER_ID,
    PERMALINK_ROOT,
    TEAM_ID,
    Channel,
    Message,
)


def auth_test(ctx: MethodContext, params: Params) -> dict[str, Any]:
    return {
        "url": f"{PERMALINK_ROOT}/",
        "team": "Closeloop Simulated Workspace",
        "user": BOT_NAME,
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


def info(ctx: MethodContext, params: Params) -> dict[str, Any]:
    return {"channel": ctx.workspace.channel(required(params, "channel", "channel_not_found")).to_api()}


def open_dm(ctx: MethodContext, params: Params) -> dict[str, Any]:
    users = [u for u in str(params.get("users") or "").split(",") if u]
    if len(users) != 1:
        raise SlackError("users_list_not_supplied" if not users else "not_supported")
    ws = ctx.workspace
    with ws.lock:
        existed = any(c.is_im and c.im_user == users[0] for c in ws.channels.values())
        channel = ws.open_im(users[0])
    return {"channel": {"id": channel.id}, "already_open": existed, "no_op": existed}


def _readable(ctx: MethodContext, params: Params) -> Channel:
    channel = ctx.workspace.channel(required(params, "channel", "channel_not_found"))
    if BOT_USER_ID not in channel.members:
        raise SlackError("not_in_channel")
    return channel


def _in_window(message: Message, params: Params) -> bool:
    inclusive = flag(params, "inclusive")
    ts = float(message.ts)
    oldest, latest = optional(params, "oldest"), optional(params, "latest")
    if oldest is not None and (ts < float(oldest) or (ts == float(oldest) and not inclusive)):
        return False
    return latest is None or ts < float(latest) or (ts == float(latest) and inclusive)


def _page(items: list[dict[str, Any]], params: Params) -> dict[str, Any]:
    """Cursor pagination over an already ordered list; the cursor is simply the next offset."""
    limit = integer(params, "limit", 100, maximum=999)
    start = int(optional(params, "cursor") or 0)
    page = items[start : start + limit]
    more = start + limit < len(items)
    return {
        "messages": page,
        "has_more": more,
        "response_metadata": {"next_cursor": str(start + limit) if more else ""},
    }


def history(ctx: MethodContext, params: Params) -> dict[str, Any]:
    ws = ctx.workspace
    with_metadata = flag(params, "include_all_metadata")
    with ws.lock:
        channel = _readable(ctx, params)
        newest_first = [m for m in reversed(ws.messages(channel.id)) if _in_window(m, params)]
        items = [
            m.to_api(include_metadata=with_metadata, replies=ws.replies(channel.id, m.ts))
            for m in newest_first
        ]
    return _page(items, params)


def replies(ctx: MethodContext, params: Params) -> dict[str, Any]:
    ws = ctx.workspace
    with_metadata = flag(params, "include_all_metadata")
    with ws.lock:
        channel = _readable(ctx, params)
        message = ws.message(channel.id, required(params, "ts", "thread_not_found"))
        parent = (
            ws.message(channel.id, message.thread_ts) if message.is_reply and message.thread_ts else message
        )
        thread = ws.replies(channel.id, parent.ts)
        items = [parent.to_api(include_metadata=with_metadata, replies=thread)]
        items += [m.to_api(include_metadata=with_metadata) for m in thread if _in_window(m, params)]
    return _page(items, params)


def users_info(ctx: MethodContext, params: Params) -> dict[str, Any]:
    return {"user": ctx.workspace.user(required(params, "user", "user_not_found")).to_api()}


HANDLERS: dict[str, Handler] = {
    "auth.test": auth_test,
    "conversations.info": info,
    "conversations.open": open_dm,
    "conversations.history": history,
    "conversations.replies": replies,
    "users.info": users_info,
}
