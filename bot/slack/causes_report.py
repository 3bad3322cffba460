"""`/loop causes`: per department, each root cause with its count and share, its outcomes and its
top remedies.

Root causes, remedies and department names come from the policy or from cases closed under an
older one, so they are escaped as customer text: a hostile entry must not ping anyone. One section
per department, capped under Slack's 3,000 characters (and the answer under 50 blocks), each cap
saying how many more it left out."""

from __future__ import annotations

from typing import Any

from bot.domain.causes import CausesReport, DepartmentCauses, RootCause
from bot.domain.policy import Policy
from bot.domain.vocabulary import Outcome
from bot.slack import kit
from bot.slack.text import fit

SECTION_BUDGET = 2800  # of Slack's 3,000 per section, leaving room for the "…and N more" line
DEPARTMENTS_SHOWN = 45  # of Slack's 50 blocks: a title, the departments, a "more" line
NAME_LIMIT = 375  # rendered characters of a name: a 75-character policy entry, all `&`, is never cut
TOP_REMEDIES = 3
OUTCOME_WORDS = {
    Outcome.RESOLVED: "✅ {} resolved",
    Outcome.PARTLY_RESOLVED: "◐ {} partly",
    Outcome.NOT_RESOLVED: "✖️ {} not resolved",
    Outcome.UNREACHABLE: "📵 {} unreachable",
}


def period_words(days: int) -> str:
    return "the last day" if days == 1 else f"the last {days} days"


def _name(text: str | None) -> str:
    return fit(text, NAME_LIMIT) if text else "_not recorded_"


def _cause_line(cause: RootCause, department_total: int) -> str:
    share = round(100 * cause.count / department_total)
    outcomes = " · ".join(words.format(cause.outcomes.get(o, 0)) for o, words in OUTCOME_WORDS.items())
    remedies = ", ".join(f"{_name(r)} ({n})" for r, n in cause.top_remedies(TOP_REMEDIES))
    return f"• *{_name(cause.name)}* — {cause.count} ({share}%)\n    {outcomes}\n    Remedies: {remedies}"


def _department_section(department: DepartmentCauses, title: str) -> dict[str, Any]:
    plural = "s" if department.total != 1 else ""
    text = f"*{fit(title, NAME_LIMIT)}* — {department.total} loop{plural} closed"
    shown = 0
    for cause in department.causes:
        line = _cause_line(cause, department.total)
        if len(text) + 1 + len(line) > SECTION_BUDGET:
            break
        text += "\n" + line
        shown += 1
    more = len(department.causes) - shown
    if more > 0:
        text += f"\n…and {more} more root cause{'s' if more != 1 else ''}."
    return kit.section(text)


def causes_answer(report: CausesReport, policy: Policy) -> dict[str, Any]:
    words = period_words(report.days)
    if not report.departments:
        return {"text": f"No loops closed in {words}."}
    titles = {d.name: d.display_name for d in policy.departments}
    blocks: list[dict[str, Any]] = [kit.section(f"*🔎 Root causes — {words}* (UTC, up to now)")]
    shown = report.departments[:DEPARTMENTS_SHOWN]
    for department in shown:
        title = titles.get(department.department, department.department)
        blocks.append(_department_section(department, title))
    more = len(report.departments) - len(shown)
    if more > 0:
        blocks.append(kit.context(f"…and {more} more department{'s' if more != 1 else ''}."))
    count = len(report.departments)
    loops = f"{report.total} loop{'s' if report.total != 1 else ''}"
    departments = f"{count} department{'s' if count != 1 else ''}"
    text = f"Root causes for {words}: {loops} closed in {departments}"
    return {"text": text, "blocks": blocks}
