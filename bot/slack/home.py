"""The App Home tab: how closeloop works, and the cases the viewer owns."""

from __future__ import annotations

from typing import Any

from bot.domain.records import CaseSnapshot
from bot.slack import kit
from bot.slack.case_message import customer_line, headline
from bot.slack.help import HELP
from bot.slack.labels import STATUSES, label

HOME_CASE_LIMIT = 20  # keeps the tab far inside Slack's 100 blocks


def home_view(total: int, cases: list[CaseSnapshot]) -> dict[str, Any]:
    """`cases` are the oldest of the viewer's `total` open cases."""
    blocks: list[dict[str, Any]] = [
        kit.header("closeloop"),
        kit.section(HELP),
        kit.divider(),
        kit.header(f"Your open cases ({total})"),
    ]
    if not cases:
        blocks.append(kit.section("_None. Claim a case in your department's channel to own it._"))
    for case in cases:
        where = f" in <#{case.slack_channel}>" if case.slack_channel else ""
        blocks.append(
            kit.section(f"*{headline(case)}* — {customer_line(case)}{where}\n{label(STATUSES, case.status)}")
        )
    if total > len(cases):
        blocks.append(
            kit.context(f"Showing your {len(cases)} oldest of {total}. Close some to see the rest.")
        )
    return {"type": "home", "blocks": blocks}
