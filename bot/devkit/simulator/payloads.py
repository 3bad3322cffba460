"""The parts of Slack's interaction payloads that depend on Block Kit elements.

Finding the element a user clicks and turning "the user chose X" into the element-type-specific
state shape (`value`, `selected_option`, `selected_user`, ...) is where hand-written test payloads
usually go wrong, so it is done once here from the blocks the bot actually sent.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any, Final

from bot.devkit.simulator.errors import DriverError
from bot.devkit.simulator.stored_blocks import interactive_elements

# element type -> the key Slack uses for its state and action payloads
STATE_KEYS: Final[dict[str, str]] = {
    "plain_text_input": "value",
    "email_text_input": "value",
    "url_text_input": "value",
    "number_input": "value",
    "static_select": "selected_option",
    "external_select": "selected_option",
    "radio_buttons": "selected_option",
    "overflow": "selected_option",
    "multi_static_select": "selected_options",
    "multi_external_select": "selected_options",
    "checkboxes": "selected_options",
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "multi_conversations_select": "selected_conversations",
    "channels_select": "selected_channel",
    "multi_channels_select": "selected_channels",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "datetimepicker": "selected_date_time",
}
# state key -> the element field holding its initial value
INITIAL_KEYS: Final[dict[str, str]] = {
    key: ("initial_value" if key == "value" else key.replace("selected_", "initial_"))
    for key in STATE_KEYS.values()
}
LIST_KEYS: Final = frozenset(k for k in STATE_KEYS.values() if k.endswith("s"))


def _elements(blocks: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(block_id, element) for every interactive element: actions, section accessories, inputs."""
    for block in blocks:
        for element in interactive_elements(block):
            yield str(block.get("block_id", "")), element


def find_element(
    blocks: list[dict[str, Any]], action_id: str, *, value: object = None, block_id: str | None = None
) -> tuple[str, dict[str, Any]]:
    """The one element a click means; for buttons sharing an action_id, `value` tells them apart."""
    found = [
        (bid, el)
        for bid, el in _elements(blocks)
        if el.get("action_id") == action_id
        and (block_id is None or bid == block_id)
        and (value is None or el.get("type") != "button" or el.get("value") == value)
    ]
    if not found:
        available = sorted({str(el.get("action_id")) for _, el in _elements(blocks)})
        raise DriverError(f"no element with action_id {action_id!r} (value={value!r}); there are {available}")
    if len(found) > 1:
        where = [bid for bid, _ in found]
        raise DriverError(f"action_id {action_id!r} is in several blocks {where}; pass value= or block_id=")
    return found[0]


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options") or []
    return options


def _option(element: dict[str, Any], value: object) -> dict[str, Any]:
    if element.get("type", "").endswith("external_select"):
        return {"text": {"type": "plain_text", "text": str(value)}, "value": str(value)}
    for option in _options(element):
        if option.get("value") == value:
            return copy.deepcopy(option)
    allowed = [o.get("value") for o in _options(element)]
    raise DriverError(f"{value!r} is not an option of {element.get('action_id')!r}; allowed: {allowed}")


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple | set | frozenset) else [value]


def element_state(element: dict[str, Any], value: object) -> dict[str, Any]:
    """`{type, <state key>: ...}` for an element given what the user chose (None: untouched)."""
    kind = str(element.get("type"))
    key = STATE_KEYS.get(kind)
    if key is None:
        raise DriverError(f"the driver cannot fill a {kind!r} element")
    if value is None:
        initial = copy.deepcopy(element.get(INITIAL_KEYS[key]))
        empty: object = [] if key in LIST_KEYS else None
        return {"type": kind, key: initial if initial is not None else empty}
    if key == "selected_option":
        chosen: object = _option(element, value)
    elif key == "selected_options":
        chosen = [_option(element, v) for v in _as_list(value)]
    elif key in LIST_KEYS:
        chosen = [str(v) for v in _as_list(value)]
    else:
        chosen = str(value)
        max_length = element.get("max_length")
        if key == "value" and isinstance(max_length, int) and len(str(value)) > max_length:
            raise DriverError(f"{element.get('action_id')!r} accepts at most {max_length} characters")
    return {"type": kind, key: chosen}


def is_empty(state: dict[str, Any]) -> bool:
    return all(v in (None, "", []) for k, v in state.items() if k != "type")


def view_state(
    blocks: list[dict[str, Any]], values: Mapping[str, object], *, enforce_required: bool = False
) -> dict[str, dict[str, Any]]:
    """Build `view.state.values` from what the user typed, keyed by `block_id` or `block_id.action_id`.

    Keys naming no input raise (a typo would silently test an empty form); so do empty required
    inputs with `enforce_required`, as Slack's client would not submit them.
    """
    state: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    for block in blocks:
        element = block.get("element")
        if block.get("type") != "input" or not isinstance(element, dict):
            continue
        block_id, action_id = str(block.get("block_id")), str(element.get("action_id"))
        keys = [k for k in (f"{block_id}.{action_id}", block_id) if k in values]
        if len(keys) > 1:
            raise DriverError(f"values for {block_id!r} given twice, as {keys}")
        key = keys[0] if keys else None
        entry = element_state(element, values[key] if key else None)
        if key:
            used.add(key)
        if enforce_required and is_empty(entry) and not block.get("optional", False):
            raise DriverError(f"input {block_id!r} is required; Slack would not let the user submit it empty")
        state.setdefault(block_id, {})[action_id] = entry
    unknown = set(values) - used
    if unknown:
        raise DriverError(f"no input blocks for {sorted(unknown)}; inputs are {sorted(state)}")
    return state
