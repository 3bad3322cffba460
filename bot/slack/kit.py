"""Small Block Kit constructors, so renderers read like the message they build."""

from __future__ import annotations

from typing import Any

from bot.slack.text import plain

Block = dict[str, Any]


def plain_text(text: str, limit: int = 3000) -> dict[str, Any]:
    return {"type": "plain_text", "text": plain(text, limit), "emoji": True}


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def header(text: str) -> Block:
    return {"type": "header", "text": plain_text(text, 150)}


def section(text: str, *, block_id: str | None = None, fields: list[str] | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if fields:
        block["fields"] = [mrkdwn(f) for f in fields[:10]]
    if block_id:
        block["block_id"] = block_id
    return block


def fields_section(fields: list[str]) -> Block:
    return {"type": "section", "fields": [mrkdwn(f) for f in fields[:10]]}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(t) for t in texts[:10]]}


def divider() -> Block:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": plain_text(text, 75),
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    return element


def actions(block_id: str, *elements: dict[str, Any]) -> Block:
    return {"type": "actions", "block_id": block_id, "elements": list(elements)}


def option(label: str, value: str) -> dict[str, Any]:
    return {"text": plain_text(label, 75), "value": value[:150]}


def input_block(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False, hint: str | None = None
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": plain_text(label, 2000),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = plain_text(hint, 2000)
    return block


def static_select(
    placeholder: str,
    options: list[dict[str, Any]],
    *,
    initial: str | None = None,
    action_id: str = "value",
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": action_id,
        "placeholder": plain_text(placeholder, 150),
        "options": options[:100],
    }
    chosen = [o for o in options if o["value"] == initial]
    if chosen:
        element["initial_option"] = chosen[0]
    return element


def users_select(placeholder: str, action_id: str) -> dict[str, Any]:
    return {"type": "users_select", "action_id": action_id, "placeholder": plain_text(placeholder, 150)}


def radio_buttons(options: list[dict[str, Any]], *, initial: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "radio_buttons", "action_id": "value", "options": options[:10]}
    chosen = [o for o in options if o["value"] == initial]
    if chosen:
        element["initial_option"] = chosen[0]
    return element


def text_input(*, multiline: bool, max_length: int, placeholder: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "value",
        "multiline": multiline,
        "max_length": min(max_length, 3000),
    }
    if placeholder:
        element["placeholder"] = plain_text(placeholder, 150)
    return element
