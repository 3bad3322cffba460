"""`/loop overdue`: the open cases that missed a deadline, and those about to, oldest first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.domain.deadlines import next_deadline
from bot.domain.durations import format_duration
from bot.domain.policy import Policy
from bot.domain.records import CaseSnapshot
from bot.slack import kit
from bot.slack.case_message import customer_line, headline, when
from bot.slack.labels import STEPS, label

LISTED = 15  # per list; keeps the answer far inside 50 blocks and readable


def _line(case: CaseSnapshot, now: datetime, link: str | None, policy: Policy) -> str:
    upcoming = next_deadline(case, now)
    title = f"<{link}|{headline(case)}>" if link else headline(case)
    where = f" in <#{case.slack_channel}>" if case.slack_channel else ""
    owner = f"<@{case.owner_id}>" if case.owner_id else "_unclaimed_"
    due = ""
    if upcoming is not None:
        verb = "was due" if upcoming.overdue else "due"
        due = f" · {label(STEPS, upcoming.step)} {verb} {when(upcoming.due_at)}"
    return f"• *{title}*{where} — {customer_line(case, policy)} · {owner}{due}"


def overdue_report(
    policy: Policy,
    now: datetime,
    overdue: tuple[int, list[CaseSnapshot]],
    at_risk: tuple[int, list[CaseSnapshot]],
    *,
    department: str | None,
    link: Callable[[CaseSnapshot], str | None] | None = None,
) -> dict[str, Any]:
    """`overdue` and `at_risk` are (how many in all, the oldest few); `link(case)` makes a link."""
    scope = f" in {department}" if department else ""
    window = format_duration(policy.sla.at_risk_within) if policy.sla else "—"
    blocks: list[dict[str, Any]] = []
    for title, (total, cases) in (
        (f"🔴 Overdue{scope} ({overdue[0]})", overdue),
        (f"⏰ At risk{scope} — due within {window} ({at_risk[0]})", at_risk),
    ):
        # One section per case: a line is at most ~700 characters, a section holds 3,000.
        blocks.append(kit.section(f"*{title}*" + ("" if cases else "\n_None._")))
        shown = cases[:LISTED]
        blocks += [kit.section(_line(case, now, link(case) if link else None, policy)) for case in shown]
        if total > len(shown):
            blocks.append(kit.context(f"…and {total - len(shown)} more."))
    text = f"{overdue[0]} overdue and {at_risk[0]} at-risk cases{scope}"
    return {"text": text, "blocks": blocks}
