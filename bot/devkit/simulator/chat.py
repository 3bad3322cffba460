"""chat.* methods: posting, editing, deleting and linking messages, with Slack's checks and errors."""

from __future__ import annotations

from typing import Any

from bot.devkit.simulator.context import Handler, MethodContext, Params, metadata, optional, required
from bot.devkit.simulator.errors import SlackError
from bot.devkit.simulator.models import BOT_USER_ID, PERMALINK_ROOT, Channel
from bot.devkit.simulator.stored_blocks import with_slack_ids


def _member_channel(ctx: MethodContext, params: Params) -> Channel:
    return _require_member(ctx.workspace.channel(required(params, "channel", "channel_not_found")))


def _require_member(channel: Channel) -> Channel:
    if BOT_USER_ID not in channel.members:
        raise SlackError("not_in_channel")
    return channel


def _content(
    ctx: MethodContext, method: str, params: Params, *, current_text: str | None = None
) -> tuple[str | None, list[dict[str, Any]] | None]:
    """Validated (text, blocks); None means "not given", which chat.update treats as "keep".

    `current_text` is what an edit keeps when it sends blocks only; the fallback check sees it.
    """
    text = params.get("text") or params.get("markdown_text")
    blocks = params.get("blocks")
    if not text and not blocks and not params.get("attachments"):
        raise SlackError("no_text")
    checked = with_slack_ids(ctx.check_blocks(method, blocks)) if blocks is not None else None
    stored = ctx.check_text(method, text if text is not None else current_text, blocks)
    return (stored if text is not None else None), checked


def post_message(ctx: MethodContext, params: Params) -> dict[str, Any]:
    ws = ctx.workspace
    with ws.lock:
        channel = ws.channel(required(params, "channel", "channel_not_found"))
        ctx.throttle_post(channel.id)
        _require_member(channel)
        text, blocks = _content(ctx, "chat.postMessage", params)
        thread_ts = optional(params, "thread_ts")
        try:
            message = ws.post(
                channel.id, BOT_USER_ID, text or "", blocks, thread_ts=thread_ts, metadata=metadata(params)
            )
        except SlackError as exc:
            if exc.code != "message_not_found":
                raise
            raise SlackError("thread_not_found") from None
        return {"channel": channel.id, "ts": message.ts, "message": message.to_api()}


def update(ctx: MethodContext, params: Params) -> dict[str, Any]:
    ws = ctx.workspace
    with ws.lock:
        channel = _member_channel(ctx, params)
        message = ws.message(channel.id, required(params, "ts", "message_not_found"))
        if message.user != BOT_USER_ID:
            raise SlackError("cant_update_message")
        text, blocks = _content(ctx, "chat.update", params, current_text=message.text)
        edited = ws.edit(channel.id, message.ts, text=text, blocks=blocks, metadata=metadata(params))
        return {"channel": channel.id, "ts": edited.ts, "text": edited.text, "message": edited.to_api()}


def delete(ctx: MethodContext, params: Params) -> dict[str, Any]:
    ws = ctx.workspace
    with ws.lock:
        channel = _member_channel(ctx, params)
        message = ws.message(channel.id, required(params, "ts", "message_not_found"))
        if message.user != BOT_USER_ID:
            raise SlackError("cant_delete_message")
        ws.delete(channel.id, message.ts)
        return {"channel": channel.id, "ts": message.ts}


def post_ephemeral(ctx: MethodContext, params: Params) -> dict[str, Any]:
    ws = ctx.workspace
    with ws.lock:
        channel = _member_channel(ctx, params)
        user = ws.user(required(params, "user", "user_not_found"))
        if user.id not in channel.members:
            raise SlackError("user_not_in_channel")
        text, blocks = _content(ctx, "chat.postEphemeral", params)
        ephemeral = ws.add_ephemeral(
            channel.id, user.id, text or "", blocks or [], optional(params, "thread_ts")
        )
        return {"message_ts": ephemeral.ts}


def get_permalink(ctx: MethodContext, params: Params) -> dict[str, Any]:
    channel = ctx.workspace.channel(required(params, "channel", "channel_not_found"))
    message = ctx.workspace.message(channel.id, required(params, "message_ts", "message_not_found"))
    link = f"{PERMALINK_ROOT}/archives/{channel.id}/p{message.ts.replace('.', '')}"
    if message.is_reply:
        link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
    return {"channel": channel.id, "permalink": link}


HANDLERS: dict[str, Handler] = {
    "chat.postMessage": post_message,
    "chat.update": update,
    "chat.delete": delete,
    "chat.postEphemeral": post_ephemeral,
    "chat.getPermalink": get_permalink,
}
