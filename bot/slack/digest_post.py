"""The digest's Slack calls: post the lead and its replies, upload the chart into the thread, and
find a part again after a send whose outcome is unknown (a crash, a timeout), so a resumed
send never posts a part twice.

Posts carry message metadata naming the digest's row and part; the chart is found by its file
name, which names the digest and the week.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk import WebClient

DIGEST_EVENT = "closeloop_digest"
LEAD = "lead"
LOOKUP_PAGES = 5  # of 200 messages


def mark(send_id: int, part: str) -> dict[str, Any]:
    return {"event_type": DIGEST_EVENT, "event_payload": {"digest_id": send_id, "part": part}}


def _is(message: dict[str, Any], send_id: int, part: str) -> bool:
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    return (
        metadata.get("event_type") == DIGEST_EVENT
        and payload.get("digest_id") == send_id
        and payload.get("part") == part
    )


class DigestPoster:
    def __init__(self, client: WebClient) -> None:
        self.client = client

    def post(
        self, channel: str, message: dict[str, Any], *, send_id: int, part: str, thread_ts: str | None = None
    ) -> str:
        response = self.client.chat_postMessage(
            channel=channel,
            text=message["text"],
            blocks=message["blocks"],
            thread_ts=thread_ts,
            metadata=mark(send_id, part),
            unfurl_links=False,
            unfurl_media=False,
        )
        return str(response["ts"])

    def upload(
        self, channel: str, thread_ts: str, png: bytes, *, filename: str, title: str, comment: str
    ) -> str:
        """files_upload_v2: getUploadURLExternal, the POST of the bytes, completeUploadExternal."""
        response = self.client.files_upload_v2(
            channel=channel,
            thread_ts=thread_ts,
            content=png,
            filename=filename,
            title=title[:250],
            alt_txt=title[:1000],
            initial_comment=comment,
        )
        return str(response["file"]["id"])

    def _messages(self, channel: str, since: datetime, thread_ts: str | None) -> Any:
        cursor: str | None = None
        for _ in range(LOOKUP_PAGES):
            arguments: dict[str, Any] = {
                "channel": channel,
                "limit": 200,
                "include_all_metadata": True,
                "oldest": f"{since.timestamp() - 60:.6f}",  # a minute of clock skew
            }
            if cursor:
                arguments["cursor"] = cursor
            if thread_ts is None:
                response = self.client.conversations_history(**arguments)
            else:
                response = self.client.conversations_replies(ts=thread_ts, **arguments)
            yield from response.get("messages") or []
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not response.get("has_more") or not cursor:
                return

    def find(
        self, channel: str, *, send_id: int, part: str, since: datetime, thread_ts: str | None = None
    ) -> str | None:
        """The ts of our earlier post of this part, if it exists."""
        for message in self._messages(channel, since, thread_ts):
            if _is(message, send_id, part):
                return str(message["ts"])
        return None

    def find_upload(self, channel: str, thread_ts: str, *, filename: str, since: datetime) -> bool:
        for message in self._messages(channel, since, thread_ts):
            if any(f.get("name") == filename for f in message.get("files") or []):
                return True
        return False
