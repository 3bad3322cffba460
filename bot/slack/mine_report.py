"""`/loop mine`: the caller's open cases, oldest first, each with its next deadline and the same
buttons its case message shows, so the work can be done from the answer itself."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.domain.policy import Policy
from bot.domain.records import CaseSnapshot
from bot.slack import kit
from bot.slack.case_message import _buttons
from bot.slack.overdue_report import _line

LISTED = 15  # a section and an actions block each: 2 + 15 × 2 = 32 of a message's 50 blocks
NONE = "You have no open cases. Claim one in your department's channel."


def _case_buttons(case: CaseSnapshot, policy: Policy) -> dict[str, Any] | None:
    """The case message's buttons, with a block_id of their own: Slack refuses a message in which
    two blocks share one, and every case message calls its row `case_actions`."""
    buttons = _buttons(case, masked=policy.privacy.mask_contact_details)
    return None if buttons is None else {**buttons, "block_id": f"case_actions_{case.id}"}


def mine_answer(
    policy: Policy,
    now: datetime,
    total: int,
    cases: list[CaseSnapshot],
    link: Callable[[CaseSnapshot], str | None] | None = None,
) -> dict[str, Any]:
    """`cases` are the oldest of the caller's `total` open cases; `link(case)` links to its message."""
    if not cases:
        return {"text": NONE}
    shown = cases[:LISTED]
    blocks: list[dict[str, Any]] = [kit.section(f"*Your open cases ({total})*, oldest first")]
    for case in shown:
        blocks.append(kit.section(_line(case, now, link(case) if link else None, policy)))
        buttons = _case_buttons(case, policy)
        if buttons is not None:
            blocks.append(buttons)
    if total > len(shown):
        blocks.append(kit.context(f"…and {total - len(shown)} more. Close some to see the rest."))
    return {"text": f"You have {total} open case{'s' if total != 1 else ''}", "blocks": blocks}
