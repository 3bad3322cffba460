"""What a Web API method handler gets: the workspace, the violation sink and parameter helpers.

Handlers are plain functions `(MethodContext, params) -> response fields`; they raise `SlackError`
to fail, so each stays a few lines of Slack semantics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from bot.devkit.simulator.blockkit import (
    MAX_MESSAGE_TEXT,
    Surface,
    validate_blocks,
    validate_message_text,
    validate_view,
)
from bot.devkit.simulator.errors import SlackError
from bot.devkit.simulator.limits import RateLimiter
from bot.devkit.simulator.workspace import Workspace

Params = dict[str, Any]


class RateLimited(Exception):
    """Raised by a handler to answer HTTP 429 with `Retry-After`."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limited, retry after {retry_after}s")
        self.retry_after = retry_after


@dataclass
class MethodContext:
    workspace: Workspace
    report: Callable[[str, list[str]], None]
    post_limiter: RateLimiter

    def check_blocks(self, method: str, blocks: object, surface: Surface = "message") -> list[dict[str, Any]]:
        """Reject invalid blocks like Slack (`invalid_blocks`) and record why; returns them typed."""
        if blocks is None:
            return []
        problems = validate_blocks(blocks, surface=surface)
        if problems:
            self.report(method, problems)
            raise SlackError("invalid_blocks", errors=problems, response_metadata={"messages": problems})
        return cast(list[dict[str, Any]], blocks)

    def check_text(self, method: str, text: object, blocks: object) -> str:
        """Record what Slack tolerates but users suffer, and return the text as Slack would store it."""
        problems = validate_message_text(text, blocks)
        if problems:
            self.report(method, problems)
        return text[:MAX_MESSAGE_TEXT] if isinstance(text, str) else ""

    def check_view(self, method: str, view: object) -> dict[str, Any]:
        problems = validate_view(view)
        if problems:
            self.report(method, problems)
            raise SlackError("invalid_arguments", response_metadata={"messages": problems})
        return cast(dict[str, Any], view)

    def throttle_post(self, channel_id: str) -> None:
        retry_after = self.post_limiter.take(channel_id)
        if retry_after is not None:
            raise RateLimited(retry_after)


def required(params: Params, key: str, error: str = "invalid_arguments") -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value:
        raise SlackError(error)
    return value


def optional(params: Params, key: str) -> str | None:
    value = params.get(key)
    return str(value) if value not in (None, "") else None


def flag(params: Params, key: str) -> bool:
    """Slack booleans arrive as true/false in JSON and as "1"/"0" or "true"/"false" in forms."""
    return params.get(key) in (True, 1, "1", "true", "True")


def integer(params: Params, key: str, default: int, *, maximum: int) -> int:
    try:
        value = int(params.get(key, default))
    except (TypeError, ValueError) as exc:
        raise SlackError("invalid_arguments") from exc
    return max(1, min(value, maximum))


def metadata(params: Params) -> dict[str, Any] | None:
    """Message metadata must be `{event_type: str, event_payload: object}`, as Slack insists."""
    value = params.get("metadata")
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("event_type"), str)
        or not isinstance(value.get("event_payload"), dict)
    ):
        raise SlackError("invalid_metadata_format")
    return value


Handler = Callable[[MethodContext, Params], dict[str, Any]]
