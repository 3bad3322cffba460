"""Blocks as Slack stores them: every block gets a `block_id` and every interactive element an `action_id`.

Bots rely on these ids in interaction payloads and view state even when they never set them, so
the simulator fills them in the way Slack does. Generated ids derive from position and content,
so re-sending the same blocks yields the same ids.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any


def _short_id(seed: str, taken: set[str]) -> str:
    candidate = hashlib.sha1(seed.encode()).hexdigest()[:5]
    while candidate in taken:
        candidate = hashlib.sha1(candidate.encode()).hexdigest()[:5]
    taken.add(candidate)
    return candidate


def interactive_elements(block: dict[str, Any]) -> list[dict[str, Any]]:
    """The interactive elements of a block (context elements are not interactive)."""
    found = list(block.get("elements") or []) if block.get("type") == "actions" else []
    found += [block[key] for key in ("accessory", "element") if isinstance(block.get(key), dict)]
    return [e for e in found if isinstance(e, dict) and e.get("type") != "image"]


def with_slack_ids(blocks: list[Any]) -> list[Any]:
    """Copy `blocks`, adding the `block_id`s and `action_id`s Slack would generate."""
    result = copy.deepcopy(blocks)
    taken = {str(b["block_id"]) for b in result if isinstance(b, dict) and "block_id" in b}
    for i, block in enumerate(result):
        if not isinstance(block, dict):
            continue
        seed = f"{i}:{json.dumps(block, sort_keys=True, default=str)}"
        if "block_id" not in block:
            block["block_id"] = _short_id(seed, taken)
        actions = {str(e["action_id"]) for e in interactive_elements(block) if "action_id" in e}
        for j, element in enumerate(interactive_elements(block)):
            if "action_id" not in element:
                element["action_id"] = _short_id(f"{seed}:{j}", actions)
    return result
