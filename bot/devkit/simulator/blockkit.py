"""Block Kit validation with Slack's published limits.

Real Slack rejects oversized or malformed blocks with a terse `invalid_blocks`; the simulator
reports *which* limit was broken so a test failure points at the offending block. The rules are
tables (one `Rule` per block, element and view type) walked by a small generic checker, so adding
a limit means adding a row, not another branch.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

Surface = Literal["message", "modal", "home"]

MAX_BLOCKS: Final[dict[str, int]] = {"message": 50, "modal": 100, "home": 100}
MAX_MESSAGE_TEXT: Final = 40_000
MAX_VIEW_BYTES: Final = 250_000
MAX_ID: Final = 255
MAX_CONTEXT_TEXT: Final = 3000

PLAIN: Final = frozenset({"plain_text"})
ANY_TEXT: Final = frozenset({"plain_text", "mrkdwn"})


@dataclass(frozen=True)
class Text:
    """A text object field (`{"type": ..., "text": ...}`) with its length limit."""

    key: str
    limit: int
    types: frozenset[str] = ANY_TEXT
    required: bool = False


@dataclass(frozen=True)
class Str:
    """A plain string field such as `value`, `url` or `block_id`."""

    key: str
    limit: int
    required: bool = False


@dataclass(frozen=True)
class Int:
    """An integer field with an upper bound, such as `max_length`."""

    key: str
    limit: int


@dataclass(frozen=True)
class TextList:
    """A list of text objects, such as a section's `fields`."""

    key: str
    max_items: int
    each_limit: int


@dataclass(frozen=True)
class Elements:
    """Where a block holds interactive elements: one (`accessory`) or a list (`elements`)."""

    key: str
    allowed: frozenset[str]
    max_items: int = 1
    many: bool = False
    required: bool = False


@dataclass(frozen=True)
class Options:
    """An element's `options` (or `option_groups`) and how many it may hold."""

    max_items: int
    text_types: frozenset[str] = PLAIN


@dataclass(frozen=True)
class Rule:
    """Everything checked on one kind of node; `check` covers the odd rule that fits no column."""

    texts: tuple[Text, ...] = ()
    strings: tuple[Str, ...] = ()
    ints: tuple[Int, ...] = ()
    text_lists: tuple[TextList, ...] = ()
    elements: Elements | None = None
    options: Options | None = None
    surfaces: frozenset[str] = frozenset(MAX_BLOCKS)
    check: Callable[[Checker, str, dict[str, Any]], None] | None = field(default=None, compare=False)


PLACEHOLDER = Text("placeholder", 150, PLAIN)
ACTION_ID = Str("action_id", MAX_ID)

SELECTS = frozenset(
    {
        "static_select",
        "external_select",
        "users_select",
        "conversations_select",
        "channels_select",
        "multi_static_select",
        "multi_external_select",
        "multi_users_select",
        "multi_conversations_select",
        "multi_channels_select",
    }
)
PICKERS = frozenset({"datepicker", "timepicker", "datetimepicker"})
CHOICES = frozenset({"checkboxes", "radio_buttons"})
TEXT_INPUTS = frozenset({"plain_text_input", "email_text_input", "url_text_input", "number_input"})

ACTION_TYPES = SELECTS | PICKERS | CHOICES | {"button", "overflow"}
ACCESSORY_TYPES = ACTION_TYPES | {"image"}
INPUT_TYPES = SELECTS | PICKERS | CHOICES | TEXT_INPUTS | {"rich_text_input", "file_input"}
CONTEXT_TYPES = ANY_TEXT | {"image"}


def _select_rule(max_options: int | None) -> Rule:
    return Rule(
        texts=(PLACEHOLDER,),
        strings=(ACTION_ID,),
        options=Options(max_options) if max_options else None,
    )


ELEMENT_RULES: Final[dict[str, Rule]] = {
    "button": Rule(
        texts=(Text("text", 75, PLAIN, required=True),),
        strings=(ACTION_ID, Str("value", 2000), Str("url", 3000)),
    ),
    "overflow": Rule(strings=(ACTION_ID,), options=Options(5)),
    "checkboxes": Rule(strings=(ACTION_ID,), options=Options(10, ANY_TEXT)),
    "radio_buttons": Rule(strings=(ACTION_ID,), options=Options(10, ANY_TEXT)),
    "plain_text_input": Rule(
        texts=(PLACEHOLDER,),
        strings=(ACTION_ID, Str("initial_value", 3000)),
        ints=(Int("max_length", 3000), Int("min_length", 3000)),
    ),
    "image": Rule(strings=(Str("image_url", 3000), Str("alt_text", 2000, required=True))),
    **{t: _select_rule(100) for t in ("static_select", "multi_static_select")},
    **{t: _select_rule(None) for t in SELECTS - {"static_select", "multi_static_select"}},
    **{t: _select_rule(None) for t in PICKERS | TEXT_INPUTS - {"plain_text_input"}},
}


def _section_has_content(checker: Checker, path: str, block: dict[str, Any]) -> None:
    if "text" not in block and "fields" not in block:
        checker.fail(path, "a section needs `text` or `fields`")


def _rich_text_has_elements(checker: Checker, path: str, block: dict[str, Any]) -> None:
    if not isinstance(block.get("elements"), list) or not block["elements"]:
        checker.fail(path, "a rich_text block needs a non-empty `elements` list")


def _image_has_source(checker: Checker, path: str, block: dict[str, Any]) -> None:
    if "image_url" not in block and "slack_file" not in block:
        checker.fail(path, "an image needs `image_url` or `slack_file`")


BLOCK_RULES: Final[dict[str, Rule]] = {
    "section": Rule(
        texts=(Text("text", 3000),),
        text_lists=(TextList("fields", 10, 2000),),
        elements=Elements("accessory", ACCESSORY_TYPES),
        check=_section_has_content,
    ),
    "header": Rule(texts=(Text("text", 150, PLAIN, required=True),)),
    "divider": Rule(),
    "context": Rule(elements=Elements("elements", CONTEXT_TYPES, max_items=10, many=True, required=True)),
    "actions": Rule(elements=Elements("elements", ACTION_TYPES, max_items=25, many=True, required=True)),
    "input": Rule(
        texts=(Text("label", 2000, PLAIN, required=True), Text("hint", 2000, PLAIN)),
        elements=Elements("element", INPUT_TYPES, required=True),
        surfaces=frozenset({"modal", "home"}),
    ),
    "rich_text": Rule(check=_rich_text_has_elements),
    "image": Rule(
        texts=(Text("title", 2000, PLAIN),),
        strings=(Str("image_url", 3000), Str("alt_text", 2000, required=True)),
        check=_image_has_source,
    ),
}

_VIEW_IDS = (Str("callback_id", MAX_ID), Str("private_metadata", 3000), Str("external_id", MAX_ID))
VIEW_RULES: Final[dict[str, Rule]] = {
    "modal": Rule(
        texts=(Text("title", 24, PLAIN, required=True), Text("submit", 24, PLAIN), Text("close", 24, PLAIN)),
        strings=_VIEW_IDS,
    ),
    "home": Rule(strings=_VIEW_IDS),
}


class Checker:
    """Walks nodes against rules and collects human-readable problems, each prefixed by a path."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def text(self, path: str, obj: object, *, limit: int, types: frozenset[str]) -> None:
        if not isinstance(obj, dict):
            self.fail(path, "must be a text object")
            return
        if obj.get("type") not in types:
            self.fail(path, f"text type must be {' or '.join(sorted(types))}, got {obj.get('type')!r}")
        text = obj.get("text")
        if not isinstance(text, str):
            self.fail(path, "`text` must be a string")
        elif not text:
            self.fail(path, "`text` must not be empty")
        elif len(text) > limit:
            self.fail(path, f"text is {len(text)} characters, limit is {limit}")

    def apply(self, path: str, node: dict[str, Any], rule: Rule) -> None:
        for spec in rule.texts:
            if spec.key in node:
                self.text(f"{path}.{spec.key}", node[spec.key], limit=spec.limit, types=spec.types)
            elif spec.required:
                self.fail(path, f"missing `{spec.key}`")
        for spec in rule.strings:
            self._string(path, node, spec)
        for spec in rule.ints:
            value = node.get(spec.key)
            if value is not None and (not isinstance(value, int) or value > spec.limit):
                self.fail(f"{path}.{spec.key}", f"must be an integer of at most {spec.limit}, got {value!r}")
        for spec in rule.text_lists:
            self._text_list(path, node, spec)
        if rule.options:
            self._options(path, node, rule.options)
        if rule.check:
            rule.check(self, path, node)

    def elements(self, path: str, node: dict[str, Any], slot: Elements) -> list[dict[str, Any]]:
        """Check a block's element slot; returns the elements so the caller can check their ids."""
        raw = node.get(slot.key)
        if raw is None:
            if slot.required:
                self.fail(path, f"missing `{slot.key}`")
            return []
        items = raw if slot.many else [raw]
        if slot.many and (not isinstance(raw, list) or not raw):
            self.fail(f"{path}.{slot.key}", "must be a non-empty list")
            return []
        if len(items) > slot.max_items:
            self.fail(f"{path}.{slot.key}", f"has {len(items)} elements, limit is {slot.max_items}")
        checked = []
        for i, element in enumerate(items):
            where = f"{path}.{slot.key}[{i}]" if slot.many else f"{path}.{slot.key}"
            if self.element(where, element, slot.allowed):
                checked.append(element)
        return checked

    def element(self, path: str, element: object, allowed: frozenset[str]) -> bool:
        if not isinstance(element, dict):
            self.fail(path, "must be an object")
            return False
        kind = element.get("type")
        if kind not in allowed:
            self.fail(path, f"element type {kind!r} is not allowed here")
            return False
        if kind in ANY_TEXT:
            self.text(path, element, limit=MAX_CONTEXT_TEXT, types=ANY_TEXT)
        elif kind in ELEMENT_RULES:
            self.apply(f"{path} ({kind})", element, ELEMENT_RULES[kind])
        return True

    def _string(self, path: str, node: dict[str, Any], spec: Str) -> None:
        value = node.get(spec.key)
        if value is None:
            if spec.required:
                self.fail(path, f"missing `{spec.key}`")
        elif not isinstance(value, str):
            self.fail(f"{path}.{spec.key}", "must be a string")
        elif len(value) > spec.limit:
            self.fail(f"{path}.{spec.key}", f"is {len(value)} characters, limit is {spec.limit}")

    def _text_list(self, path: str, node: dict[str, Any], spec: TextList) -> None:
        items = node.get(spec.key)
        if items is None:
            return
        if not isinstance(items, list):
            self.fail(f"{path}.{spec.key}", "must be a list")
            return
        if len(items) > spec.max_items:
            self.fail(f"{path}.{spec.key}", f"has {len(items)} items, limit is {spec.max_items}")
        for i, item in enumerate(items):
            self.text(f"{path}.{spec.key}[{i}]", item, limit=spec.each_limit, types=ANY_TEXT)

    def _options(self, path: str, node: dict[str, Any], spec: Options) -> None:
        options = _as_list(node.get("options"))
        for group in _as_list(node.get("option_groups")):
            options.extend(_as_list(group.get("options")) if isinstance(group, dict) else [])
        if len(options) > spec.max_items:
            self.fail(f"{path}.options", f"has {len(options)} options, limit is {spec.max_items}")
        for i, option in enumerate(options):
            where = f"{path}.options[{i}]"
            if not isinstance(option, dict):
                self.fail(where, "must be an option object")
                continue
            self.text(f"{where}.text", option.get("text"), limit=75, types=spec.text_types)
            self._string(where, option, Str("value", 150, required=True))


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def validate_blocks(blocks: object, *, surface: Surface = "message") -> list[str]:
    """Return what real Slack would reject in `blocks` on `surface`; an empty list means valid."""
    checker = Checker()
    if not isinstance(blocks, list):
        return ["blocks must be a list of block objects"]
    if len(blocks) > MAX_BLOCKS[surface]:
        checker.fail("blocks", f"{len(blocks)} blocks, limit for a {surface} is {MAX_BLOCKS[surface]}")
    seen_block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        if not isinstance(block, dict):
            checker.fail(f"blocks[{i}]", "must be an object")
            continue
        kind = block.get("type")
        path = f"blocks[{i}] ({kind})"
        rule = BLOCK_RULES.get(kind) if isinstance(kind, str) else None
        if rule is None:
            checker.fail(f"blocks[{i}]", f"unknown block type {kind!r}")
            continue
        if surface not in rule.surfaces:
            checker.fail(path, f"{kind} blocks are not allowed in a {surface}")
        _check_block_id(checker, path, block, seen_block_ids)
        checker.apply(path, block, rule)
        elements = checker.elements(path, block, rule.elements) if rule.elements else []
        _check_action_ids(checker, path, elements)
    return checker.problems


def _check_block_id(checker: Checker, path: str, block: dict[str, Any], seen: set[str]) -> None:
    block_id = block.get("block_id")
    if block_id is None:
        return
    checker.apply(path, block, Rule(strings=(Str("block_id", MAX_ID),)))
    if isinstance(block_id, str):
        if block_id in seen:
            checker.fail(path, f"duplicate block_id {block_id!r}")
        seen.add(block_id)


def _check_action_ids(checker: Checker, path: str, elements: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for element in elements:
        action_id = element.get("action_id")
        if not isinstance(action_id, str):
            continue
        if action_id in seen:
            checker.fail(path, f"duplicate action_id {action_id!r} in one block")
        seen.add(action_id)


def validate_view(view: object) -> list[str]:
    """Return what real Slack would reject in a modal or Home tab view (fields, blocks and size)."""
    if not isinstance(view, dict):
        return ["view must be an object"]
    kind = view.get("type")
    rule = VIEW_RULES.get(kind) if isinstance(kind, str) else None
    if rule is None:
        return [f"view type must be modal or home, got {kind!r}"]
    checker = Checker()
    checker.apply("view", view, rule)
    blocks = view.get("blocks")
    problems = checker.problems + [f"view.{p}" for p in validate_blocks(blocks, surface=kind)]
    has_inputs = isinstance(blocks, list) and any(
        isinstance(b, dict) and b.get("type") == "input" for b in blocks
    )
    if kind == "modal" and has_inputs and "submit" not in view:
        problems.append("view: a modal with input blocks needs a `submit` button")
    size = len(json.dumps(view).encode("utf-8"))
    if size > MAX_VIEW_BYTES:
        problems.append(f"view: {size} bytes of JSON, limit is {MAX_VIEW_BYTES}")
    return problems


def validate_message_text(text: object, blocks: object) -> list[str]:
    """Problems Slack tolerates but users suffer: truncated text, or no fallback text for notifications."""
    problems = []
    if text is not None and not isinstance(text, str):
        problems.append("text must be a string")
    elif isinstance(text, str) and len(text) > MAX_MESSAGE_TEXT:
        problems.append(f"text is {len(text)} characters, Slack truncates above {MAX_MESSAGE_TEXT}")
    if blocks and not (isinstance(text, str) and text.strip()):
        problems.append("missing fallback text: a message with blocks needs `text` for notifications")
    return problems
