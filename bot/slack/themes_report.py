"""`/loop themes`: the themes rising fastest among detractors, this period against the one
before; and the spike alert a department's channel gets when one theme suddenly has many.

Theme names come from survey tools' tags (outside text) as well as the policy, so every name is
escaped: a tag `<!channel>` must not ping anyone. Lines are packed into sections under Slack's
3,000 characters, the answer stays under 50 blocks, and each cap says how many more it left out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.domain.policy import Policy
from bot.domain.records import CaseSnapshot
from bot.domain.scoring import score_label
from bot.domain.themes import ThemeAlert, ThemeCount, ThemesReport
from bot.slack import kit
from bot.slack.case_message import Message
from bot.slack.causes_report import period_words
from bot.slack.text import fit

SECTION_BUDGET = 2800  # of Slack's 3,000 per section
LISTED = 30  # rising themes listed at most; the rest are counted
NAME_LIMIT = 375  # rendered characters of a theme name: a 75-character policy theme of `&` is never cut
TOP_SHOWN = 5  # most frequent themes named in the closing line
TEXT_NAMES = 3  # names in the fallback text (notifications show it)


def _name(theme: ThemeCount, limit: int = NAME_LIMIT) -> str:
    return fit(theme.theme, limit)


def _line(theme: ThemeCount) -> str:
    was = "new" if theme.previous == 0 else f"was {theme.previous}"
    return f"• *{_name(theme)}* — {theme.current} ({was}) ▲ +{theme.rise}"


def _sections(lines: list[str]) -> list[dict[str, Any]]:
    """Lines packed into as few sections as fit."""
    sections: list[str] = []
    for line in lines:
        if sections and len(sections[-1]) + 1 + len(line) <= SECTION_BUDGET:
            sections[-1] += "\n" + line
        else:
            sections.append(line)
    return [kit.section(text) for text in sections]


def themes_answer(report: ThemesReport, policy: Policy) -> dict[str, Any]:
    words = period_words(report.days)
    before = f"the {report.days} days before" if report.days != 1 else "the day before"
    scope = ""
    if report.department is not None:
        titles = {d.name: d.display_name for d in policy.departments}
        scope = f" in {fit(titles.get(report.department, report.department), NAME_LIMIT)}"
    if not report.themes:
        return {"text": f"No themes among detractors{scope} in {words} or {before}."}
    rising = report.rising()
    shown = rising[:LISTED]
    title = f"*📈 Themes rising among detractors{scope} — {words}* (against {before}, UTC, up to now)"
    blocks: list[dict[str, Any]] = [kit.section(title)]
    if shown:
        blocks.extend(_sections([_line(t) for t in shown]))
    else:
        blocks.append(kit.section(f"No theme rose: each was as frequent in {before}, or more."))
    notes = []
    if len(rising) > len(shown):
        more = len(rising) - len(shown)
        notes.append(f"…and {more} more rising theme{'s' if more != 1 else ''}.")
    steady = len(report.themes) - len(rising)
    if steady:
        notes.append(f"{steady} theme{'s' if steady != 1 else ''} steady or falling.")
    top = report.top(TOP_SHOWN)
    if top:
        notes.append("Most frequent: " + ", ".join(f"{_name(t, 100)} ({t.current})" for t in top))
    if notes:
        blocks.append(kit.context(" ".join(notes)))  # names capped above: well under 3,000
    named = ", ".join(f"{_name(t, 60)} +{t.rise}" for t in rising[:TEXT_NAMES])
    text = f"Themes among detractors{scope}, {words}: {len(rising)} rising" + (f" — {named}" if named else "")
    return {"text": text, "blocks": blocks}


def _window(within: timedelta) -> str:
    hours = within.total_seconds() / 3600
    if hours % 24 == 0:
        days = int(hours // 24)
        return "day" if days == 1 else f"{days} days"
    return "hour" if hours == 1 else f"{hours:g} hours"


def _case_line(case: CaseSnapshot, link: str | None) -> str:
    number = f"<{link}|Case #{case.id}>" if link else f"Case #{case.id}"
    return f"• {number} · {score_label(case.survey, case.score)}"


def theme_alert_message(
    alert: ThemeAlert, theme: str, policy: Policy, links: dict[int, str | None]
) -> Message:
    """The theme as shown (`theme`, escaped here), how many detractors within the window, the rise
    against the 4-week average when the rule has a ratio, and the cases (newest first)."""
    name = fit(theme, NAME_LIMIT)
    window = _window(alert.within)
    plural = "s" if alert.count != 1 else ""
    title = (
        f"🚨 *Theme spike among detractors: {name}* — {alert.count} detractor{plural} in the last {window}"
    )
    if alert.average is not None:
        average = f"{alert.average:.1f}".rstrip("0").rstrip(".")
        title += f", against a 4-week average of {average} per {window}"
    lines = [_case_line(case, links.get(case.id)) for case in alert.cases]
    if alert.unnamed:
        lines.append(f"…and {alert.unnamed} more.")
    blocks = [kit.section(title), *_sections(lines)] if lines else [kit.section(title)]
    blocks.append(
        kit.context(
            "Many detractors naming one reason: find its root cause, and reach the customers likely "
            "affected who have not said so yet."
        )
    )
    text = f"Theme spike among detractors: {fit(theme, 100)} — {alert.count} in the last {window}"
    return Message(text, blocks[:50])
