"""Refuse payloads not shaped like Slack's before Bolt matches listeners: Bolt's matchers assume
`actions[].action_id` and `view.callback_id` are there, and raise (an 'unexpected error' in our
log) on a forged or broken request that is merely malformed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse

log = logging.getLogger(__name__)


def shape_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "the payload is not an object"
    kind = body.get("type")
    if kind == "block_actions":
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions:
            return "actions is not a non-empty list"
        for action in actions:
            if not isinstance(action, dict) or not isinstance(action.get("action_id"), str):
                return "an action has no action_id"
            if "block_id" in action and not isinstance(action["block_id"], str):
                return "an action's block_id is not a string"
    if kind == "block_suggestion" and not isinstance(body.get("action_id"), str):
        return "the suggestion request has no action_id"
    if kind == "event_callback" and not isinstance(body.get("event"), dict):
        return "the event is not an object"
    if kind in ("view_submission", "view_closed"):
        view = body.get("view")
        if not isinstance(view, dict) or not isinstance(view.get("callback_id"), str):
            return "the view has no callback_id"
    return None


def register(app: App) -> None:
    @app.middleware
    def well_formed(body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse | None:
        problem = shape_problem(body)
        if problem is not None:
            log.warning("ignored a malformed %s payload: %s", body.get("type"), problem)
            return BoltResponse(status=200, body="")
        return next()
