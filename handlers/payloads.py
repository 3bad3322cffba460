"""Reading the few fields listeners need from Slack payloads, with clear errors when absent."""

from __future__ import annotations

from typing import Any

from bot.slack.actions import BadPayload, CaseRef, EscalationRef


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


def response_url(body: dict[str, Any]) -> str | None:
    """Where to answer this interaction privately (a Home tab click has none)."""
    value = body.get("response_url")
    return value if isinstance(value, str) and value else None


def from_ephemeral(body: dict[str, Any]) -> bool:
    """Whether the click was on an ephemeral message (e.g. `/loop mine`'s answer)."""
    container = body.get("container")
    return isinstance(container, dict) and container.get("is_ephemeral") is True


def first_action(body: dict[str, Any]) -> dict[str, Any]:
    actions = _get(body, "actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise BadPayload("payload has no actions")
    return actions[0]


def action_ref(body: dict[str, Any]) -> CaseRef:
    return CaseRef.decode(first_action(body).get("value"))


def escalation_ref(body: dict[str, Any]) -> EscalationRef:
    """Buttons carry the reference as their value; select menus only in their block_id."""
    action = first_action(body)
    return EscalationRef.decode(action.get("value") or action.get("block_id"))


def selected_user(body: dict[str, Any]) -> str:
    value = first_action(body).get("selected_user")
    if not isinstance(value, str) or not value:
        raise BadPayload("payload has no selected_user")
    return value


def selected_value(body: dict[str, Any]) -> str:
    option = first_action(body).get("selected_option")
    value = option.get("value") if isinstance(option, dict) else None
    if not isinstance(value, str):
        raise BadPayload("payload has no selected_option.value")
    return value


def message_ts(body: dict[str, Any]) -> str:
    value = _get(body, "container", "message_ts")
    if not isinstance(value, str):
        raise BadPayload("container.message_ts is not a string")
    return value


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
