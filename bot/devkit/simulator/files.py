"""files.* methods and the upload URL: Slack's external upload, which `files_upload_v2` drives.

1. files.getUploadURLExternal(filename, length) reserves a file and answers an upload_url and
   a file_id (Tier 4).
2. The client POSTs the raw bytes to upload_url (no token: the URL is the credential). Here that
   URL is served by the simulator itself, under /upload/<file_id>; the length must be the one
   declared in step 1.
3. files.completeUploadExternal(files=[{id, title}], channel_id, thread_ts, initial_comment)
   shares the uploaded files (Tier 4): into a channel the bot is a member of
   (`not_in_channel` otherwise), optionally as a reply in a thread (the parent's ts).
"""

from __future__ import annotations

import json
from typing import Any

from bot.devkit.simulator.context import Handler, MethodContext, Params, optional
from bot.devkit.simulator.errors import SlackError
from bot.devkit.simulator.file_store import SimFile
from bot.devkit.simulator.models import BOT_USER_ID
from bot.devkit.simulator.transport import HttpReply, HttpRequest
from bot.devkit.simulator.workspace import Workspace

MAX_FILENAME = 255
MAX_TITLE = 255
MAX_ALT_TXT = 1000  # Slack: alt_txt_too_large
MAX_FILE_BYTES = 1024**3  # 1 GB, the external upload's limit
MAX_FILES_PER_COMPLETE = 10


def _length(params: Params) -> int:
    value = params.get("length")
    if value in (None, ""):
        raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] missing 'length'"]})
    try:
        length = int(value)
    except (TypeError, ValueError):
        raise SlackError(
            "invalid_arguments", response_metadata={"messages": ["[ERROR] 'length' must be an integer"]}
        ) from None
    if length <= 0:
        raise SlackError("missing_argument")  # what Slack answers to length=0
    if length > MAX_FILE_BYTES:
        raise SlackError("file_upload_size_restricted")
    return length


def get_upload_url(ctx: MethodContext, params: Params) -> dict[str, Any]:
    filename = params.get("filename")
    if not isinstance(filename, str) or not filename.strip():
        raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] missing 'filename'"]})
    if len(filename) > MAX_FILENAME or any(c in filename for c in "/\\\x00"):
        ctx.report("files.getUploadURLExternal", [f"filename: {filename[:60]!r} is not a plain file name"])
        raise SlackError("invalid_arguments")
    length = _length(params)
    alt_txt = optional(params, "alt_txt")
    if alt_txt is not None and len(alt_txt) > MAX_ALT_TXT:
        raise SlackError("alt_txt_too_large")
    ws = ctx.workspace
    root = ws.files.upload_root
    if root is None:
        raise SlackError("internal_error")
    record = ws.files.reserve(SimFile(ws.new_id("F"), filename, length, ws.clock(), alt_txt=alt_txt))
    return {"upload_url": f"{root}{record.id}", "file_id": record.id}


def _file_list(params: Params) -> list[dict[str, Any]]:
    raw = params.get("files")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise SlackError("invalid_arguments") from None
    if not isinstance(raw, list) or not raw or len(raw) > MAX_FILES_PER_COMPLETE:
        raise SlackError("invalid_arguments")
    if not all(isinstance(f, dict) and isinstance(f.get("id"), str) for f in raw):
        raise SlackError("invalid_arguments")
    return raw


def complete_upload(ctx: MethodContext, params: Params) -> dict[str, Any]:
    wanted = _file_list(params)
    ws = ctx.workspace
    channel_id, thread_ts = optional(params, "channel_id"), optional(params, "thread_ts")
    if channel_id is None and params.get("channels"):
        channels = [c for c in str(params["channels"]).split(",") if c]
        if len(channels) != 1 and thread_ts is not None:
            raise SlackError("invalid_arguments")  # a thread is in one channel
        channel_id = channels[0] if channels else None
    if thread_ts is not None and channel_id is None:
        raise SlackError("invalid_arguments")
    comment = optional(params, "initial_comment")
    with ws.lock, ws.files.lock:
        records = []
        for item in wanted:
            record = ws.files.get(item["id"])
            if record is None or not record.uploaded or record.completed:
                raise SlackError("file_not_found")
            title = item.get("title")
            if title is not None and (not isinstance(title, str) or len(title) > MAX_TITLE):
                raise SlackError("invalid_arguments")
            records.append((record, title))
        if channel_id is not None:
            channel = ws.channel(channel_id)
            if BOT_USER_ID not in channel.members:
                raise SlackError("not_in_channel")
            if thread_ts is not None:
                parent = ws.message(channel.id, thread_ts)
                if parent.is_reply:  # Slack: give the parent's ts, never a reply's
                    raise SlackError("invalid_thread_ts")
            text = ctx.check_text("files.completeUploadExternal", comment, None) if comment else ""
        for record, title in records:
            record.title = title or record.filename
            record.completed = True
        if channel_id is not None:
            shared = [record.to_api() for record, _ in records]
            message = ws.post(channel.id, BOT_USER_ID, text, thread_ts=thread_ts, files=shared)
            for record, _ in records:
                record.channel, record.thread_ts, record.message_ts = channel.id, thread_ts, message.ts
                record.shares.append(channel.id)
        return {"files": [{"id": r.id, "title": r.title} for r, _ in records]}


def upload_route(workspace: Workspace, report: Any, request: HttpRequest, file_id: str) -> HttpReply:
    """Step 2: the bytes, POSTed raw (or as multipart by other clients: refused here)."""
    if request.method != "POST":
        return HttpReply(405, {"ok": False, "error": "method_not_allowed"})
    with workspace.files.lock:
        record = workspace.files.get(file_id)
        if record is None:
            return HttpReply(404, {"ok": False, "error": "file_not_found"})
        if record.uploaded or record.completed:
            return HttpReply(400, {"ok": False, "error": "already_uploaded"})
        if len(request.body) != record.length:
            report(
                "upload_url",
                [f"{file_id}: {len(request.body)} bytes sent, {record.length} declared when reserved"],
            )
            return HttpReply(400, {"ok": False, "error": "length_mismatch"})
        record.data = bytes(request.body)
    return HttpReply(200, {"ok": True, "file_id": file_id, "size": len(request.body)})


HANDLERS: dict[str, Handler] = {
    "files.getUploadURLExternal": get_upload_url,
    "files.completeUploadExternal": complete_upload,
}
