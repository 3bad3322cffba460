"""Reading the few fields listeners need from Slack payloads, with clear errors when absent."""

from __future__ import annotations

from typing import Any

from bot.slack.actions import BadPayload, CaseRef


def _get(body: Any, *path: str) -> Any:
    value = body
    for key in path:
        if not isinstance(value, dict) or key not in value:
            raise BadPayload(f"payload has no {'.'.join(path)}")
        value = value[key]
    return value


def user_id(body: dict[str, Any]) -> str:
    value = _get(body, "user", "id")
    if not isinstance(value, str) or not value:
        raise BadPayload("payload user.id is not a string")
    return value


def channel_id(body: dict[str, Any]) -> str:
    value = _get(body, "channel", "id") if "channel" in body else _get(body, "container", "channel_id")
    if not isinstance(value, str):
        raise BadPayload("payload channel id is not a string")
    return value


def action_ref(body: dict[str, Any]) -> CaseRef:
    actions = _get(body, "actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise BadPayload("payload has no actions")
    return CaseRef.decode(actions[0].get("value"))


def view_ref(body: dict[str, Any]) -> CaseRef:
    return CaseRef.decode(_get(body, "view", "private_metadata"))


def view_values(body: dict[str, Any]) -> dict[str, Any]:
    values = _get(body, "view", "state", "values")
    if not isinstance(values, dict):
        raise BadPayload("view.state.values is not an object")
    return values


def trigger_id(body: dict[str, Any]) -> str:
    value = _get(body, "trigger_id")
    if not isinstance(value, str):
        raise BadPayload("trigger_id is not a string")
    return value
