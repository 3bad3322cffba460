"""The response_url endpoint: how a bot answers a click or slash command without the Web API.

Slack applies the posted JSON to the conversation: an ephemeral note for the user by default, a
new channel message for `response_type: in_channel`, or an edit / deletion of the message the
button was on (`replace_original`, `delete_original`), which may itself be an ephemeral message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.devkit.simulator.blockkit import validate_blocks, validate_message_text
from bot.devkit.simulator.context import flag
from bot.devkit.simulator.errors import SlackError
from bot.devkit.simulator.models import BOT_USER_ID, ResponsePost, ResponseUrl
from bot.devkit.simulator.stored_blocks import with_slack_ids
from bot.devkit.simulator.transport import HttpReply
from bot.devkit.simulator.workspace import Workspace

ReportFn = Callable[[str, list[str]], None]


class ResponseUrls:
    """Applies response_url posts to the workspace and records them in `workspace.responses`."""

    def __init__(self, workspace: Workspace, report: ReportFn) -> None:
        self.workspace = workspace
        self._report = report

    def post(self, response_id: str, payload: object) -> HttpReply:
        ws = self.workspace
        if not isinstance(payload, dict):
            return HttpReply(400, {"ok": False, "error": "invalid_payload"})
        with ws.lock:
            ws.responses.append(ResponsePost(response_id, payload, ws.clock()))
            try:
                self._apply(ws.use_response_url(response_id), payload)
            except SlackError as exc:
                return HttpReply(404 if exc.code.endswith("_url") else 400, exc.to_response())
        return HttpReply(200, {"ok": True})

    def answer_command(self, target: ResponseUrl, body: str, parsed: object) -> None:
        """Show a slash command's immediate HTTP answer as Slack does: a plain-text body or a JSON
        message, ephemeral unless `response_type: in_channel`. It does not use up the response_url."""
        payload = parsed if isinstance(parsed, dict) else {"text": body}
        with self.workspace.lock:
            try:
                self._apply(target, payload, where="slash command answer")
            except SlackError as exc:
                self._report("slash command answer", [f"Slack would show the user an error: {exc.code}"])

    def _apply(self, target: ResponseUrl, payload: dict[str, Any], *, where: str = "response_url") -> None:
        ws = self.workspace
        ts = target.message_ts
        if ts and flag(payload, "delete_original"):
            if target.ephemeral:
                ws.remove_ephemeral(target.channel_id, target.user_id, ts)
            else:
                ws.delete(target.channel_id, ts)
            return
        text, blocks = self._content(payload, where)
        if ts and flag(payload, "replace_original"):
            if target.ephemeral:
                ws.replace_ephemeral(target.channel_id, target.user_id, ts, text=text, blocks=blocks)
            else:
                ws.edit(target.channel_id, ts, text=text, blocks=blocks)
        elif payload.get("response_type") == "in_channel":
            thread_ts = payload.get("thread_ts")
            ws.post(
                target.channel_id, BOT_USER_ID, text, blocks, thread_ts=str(thread_ts) if thread_ts else None
            )
        else:
            ws.add_ephemeral(target.channel_id, target.user_id, text, blocks)

    def _content(self, payload: dict[str, Any], where: str) -> tuple[str, list[dict[str, Any]]]:
        text, blocks = payload.get("text"), payload.get("blocks")
        if not text and not blocks:
            raise SlackError("no_text")
        if blocks is not None:
            problems = validate_blocks(blocks, surface="message")
            if problems:
                self._report(where, problems)
                raise SlackError("invalid_blocks", errors=problems)
        warnings = validate_message_text(text, blocks)
        if warnings:
            self._report(where, warnings)
        return (text if isinstance(text, str) else ""), with_slack_ids(blocks or [])
