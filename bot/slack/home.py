"""The App Home tab: the viewer's figures for the month, their open cases with the buttons their
case messages carry, and the unclaimed queue they may claim from, inside Slack's 100 blocks.

Each case is the `/loop mine` line and button row (bot.slack.mine_report), so a case works the
same from the channel, the `/loop mine` answer and Home. The lists are capped, their counts are
not: what did not fit is said, with where to find it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bot.domain.durations import format_duration
from bot.domain.home import HomeContent, MonthFigures, QueueScope
from bot.domain.policy import Policy
from bot.domain.records import CaseSnapshot
from bot.slack import kit
from bot.slack.mine_report import _case_buttons
from bot.slack.overdue_report import _line
from bot.slack.text import escape

MAX_BLOCKS = 100  # Slack's limit for a Home tab
MAX_BYTES = 250_000  # ... and for a view's JSON
MINE_LISTED = 25  # a section and a button row each: 50 blocks at most
QUEUE_LISTED = 15  # 30 blocks at most; with the rest of the view, 91 of 100
HELP_LINE = "Type `/loop help` for every command · `/loop mine` lists your open cases in any channel."


def _median(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes = max(1, round(seconds / 60))  # a median to the second reads as noise
    return " ".join(format_duration(timedelta(minutes=minutes)).split()[:2])


def figures_block(figures: MonthFigures) -> dict[str, Any]:
    return kit.fields_section(
        [
            f"*Loops closed*\n{figures.closed:,}",
            f"*Median time to close*\n{_median(figures.median_close_seconds)}",
            f"*Kudos received*\n{figures.kudos:,}",
            f"*Customers won back*\n{figures.won_back:,}",
        ]
    )


Link = Callable[[CaseSnapshot], str | None]


def _case_rows(
    case: CaseSnapshot, policy: Policy, content: HomeContent, link: Link | None
) -> list[dict[str, Any]]:
    rows = [kit.section(_line(case, content.now, link(case) if link else None, policy))]
    buttons = _case_buttons(case, policy)
    if buttons is not None:
        rows.append(buttons)
    return rows


def _queue_title(content: HomeContent, policy: Policy) -> str:
    names = [escape(policy.department(name).display_name) for name in content.queue.departments]
    if content.queue.scope is QueueScope.EVERYONE:
        where = "every department"
    else:
        where = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"*Unclaimed in {where}* ({content.queue_total:,}), the first due to be claimed first"


def _listed(shown: list[list[dict[str, Any]]], total: int, empty: str, more: str) -> list[dict[str, Any]]:
    """A list's cases (their rows), what it says when empty, and how many it left out."""
    blocks = [block for rows in shown for block in rows]
    if total == 0:
        blocks.append(kit.section(empty))
    if total > len(shown):
        blocks.append(kit.context(f"…and {total - len(shown):,} {more}"))
    return blocks


def _size(blocks: list[dict[str, Any]]) -> int:
    return len(json.dumps({"type": "home", "blocks": blocks}, ensure_ascii=False).encode())


def home_view(content: HomeContent, policy: Policy, link: Link | None = None) -> dict[str, Any]:
    """The Home view of `content`; `link(case)` links to its case message. Lists are cut to what
    fits in 100 blocks and 250 KB, and the cut is said ("…and 62 more")."""
    head: list[dict[str, Any]] = [
        kit.header("Your month so far"),
        figures_block(content.figures),
        kit.context(HELP_LINE),
        kit.divider(),
    ]
    mine_title = kit.section(f"*Your open cases ({content.mine_total:,})*, the next deadline first")
    mine = [_case_rows(case, policy, content, link) for case in content.mine[:MINE_LISTED]]
    queue: list[list[dict[str, Any]]] = []
    queue_title: dict[str, Any] | None = None
    if content.queue.scope is not QueueScope.NONE:
        queue_title = kit.section(_queue_title(content, policy))
        queue = [_case_rows(case, policy, content, link) for case in content.queued[:QUEUE_LISTED]]

    def assemble() -> list[dict[str, Any]]:
        blocks = [*head, mine_title]
        blocks += _listed(
            mine,
            content.mine_total,
            "_None. Claim a case below or in your department's channel._",
            "more, later deadlines: `/loop mine` or your channels.",
        )
        blocks.append(kit.divider())
        if queue_title is None:
            blocks.append(
                kit.context("You are in no department, so no unclaimed queue is yours to claim from.")
            )
            return blocks
        blocks.append(queue_title)
        blocks += _listed(
            queue,
            content.queue_total,
            "_Nothing waiting to be claimed._",
            "more waiting: see your department's channel.",
        )
        return blocks

    blocks = assemble()
    # The caps above keep far inside both limits; long texts could still make it heavy, so
    # drop cases (the queue's last first, then one's own) until it fits, and say so.
    while (len(blocks) > MAX_BLOCKS or _size(blocks) > MAX_BYTES) and (queue or mine):
        (queue if queue else mine).pop()
        blocks = assemble()
    return {"type": "home", "blocks": blocks}


def shown_cases(content: HomeContent) -> list[CaseSnapshot]:
    """The cases `home_view(content)` can show (a change to one owes the viewer a refresh)."""
    return [*content.mine[:MINE_LISTED], *content.queued[:QUEUE_LISTED]]
