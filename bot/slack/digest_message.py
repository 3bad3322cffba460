"""The weekly digest in Slack: a lead message with the headline figures against last week, and
its thread (themes and root causes, people to thank, overdue cases, promoters nobody thanked).

Every name that came from outside (themes, root causes, customers) is escaped and capped; each
list item is its own section and each list is capped, so a thread part stays far inside
Slack's 50 blocks and 3,000 characters per section whatever the data.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.deadlines import next_deadline
from bot.domain.digest import Digest
from bot.domain.leaderboard import Standing
from bot.domain.policy import Policy
from bot.domain.records import CaseSnapshot
from bot.domain.scoring import score_label
from bot.domain.stats import STEPS, LoopStats
from bot.domain.vocabulary import Survey
from bot.slack import kit
from bot.slack.case_message import customer_line, headline, when
from bot.slack.labels import STEPS as STEP_LABELS
from bot.slack.labels import label
from bot.slack.text import escape, fit, slack_date

LISTED = 10  # items per list in a thread part
NAME_LIMIT = 100  # characters of a theme or cause name shown
THANKED = 5

Message = dict[str, Any]


def _change(now: float | None, before: float | None, unit: str = "") -> str:
    """' ▲ +3', ' ▼ -5 pts', or ' ＝' when it rounds to no change; '' without both figures."""
    if now is None or before is None:
        return ""
    delta = round(now - before)
    if delta == 0:
        return " ＝"
    return f" {'▲' if delta > 0 else '▼'} {delta:+d}{unit}"


def _nps(stats: LoopStats) -> str:
    if stats.nps is None:
        return "—"
    margin = f" ± {stats.nps_margin:.0f}" if stats.nps_margin is not None else ""
    return f"{stats.nps:+.0f}{margin}"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def _pct(value: float | None) -> float | None:
    return None if value is None else 100 * value


def headline_fields(this: LoopStats, last: LoopStats) -> list[str]:
    """Figure, change and last week's value, for the lead and for the terminal preview."""
    fields = [
        f"*Responses*\n{this.responses}{_change(this.responses, last.responses)} "
        f"(last week {last.responses})",
        f"*NPS*\n{_nps(this)}{_change(this.nps, last.nps)} (last week {_nps(last)}, "
        f"n = {this.nps_responses})",
        f"*Closure rate*\n{_share(this.closure_rate)}"
        f"{_change(_pct(this.closure_rate), _pct(last.closure_rate), ' pts')} "
        f"(last week {_share(last.closure_rate)}, {this.cases_closed} of {this.cases_opened} cases)",
    ]
    sla = [
        f"{label(STEP_LABELS, step)} {_share(this.sla_hit_rate.get(step))}"
        f"{_change(_pct(this.sla_hit_rate.get(step)), _pct(last.sla_hit_rate.get(step)), ' pts')}"
        for step in STEPS
    ]
    fields.append("*SLA hit rate*\n" + " · ".join(sla))
    fields.append(
        f"*Won back*\n{this.won_back}{_change(this.won_back, last.won_back)} (last week {last.won_back})"
    )
    return fields


def _scope(digest: Digest) -> str:
    return "everyone" if digest.target.department is None else digest.target.title


def _week_words(digest: Digest) -> str:
    zone = ZoneInfo(digest.timezone)
    first = digest.week.since.astimezone(zone).date()
    last = digest.week.until.astimezone(zone).date() - timedelta(days=1)
    return f"{first:%a %d %b} – {last:%a %d %b %Y} ({digest.timezone})"


def lead_message(digest: Digest) -> Message:
    scope = _scope(digest)
    title = f"📊 Weekly loop digest · {digest.week.label} · {scope}"
    blocks = [
        kit.header(title),
        kit.fields_section(headline_fields(digest.this_week, digest.last_week)),
        kit.context(
            f"{escape(_week_words(digest))}, against the week before. In the thread: themes and root "
            "causes, people to thank, overdue cases, promoters nobody thanked, and the 12-week chart."
        ),
    ]
    this = digest.this_week
    text = (
        f"Weekly loop digest {digest.week.label} ({escape(scope)}): {this.responses} responses, "
        f"NPS {_nps(this)}, closure rate {_share(this.closure_rate)}"
    )
    return {"text": text, "blocks": blocks}


def _name(text: str | None, empty: str) -> str:
    return fit(text, NAME_LIMIT) if text else empty


def themes_and_causes(digest: Digest) -> list[dict[str, Any]]:
    themes = digest.themes[:LISTED]
    blocks = [
        kit.section(
            "*🔎 Top themes among detractors*"
            + ("" if themes else "\n_No detractor's response had a theme._")
        )
    ]
    blocks += [
        kit.section(
            f"• {_name(t.theme, '(no theme)')} — *{t.current}*{_change(t.current, t.previous)} "
            f"(week before {t.previous})"
        )
        for t in themes
    ]
    if len(digest.themes) > LISTED:
        blocks.append(
            kit.context(f"…and {len(digest.themes) - LISTED} more themes: `/loop themes week` lists them.")
        )
    causes = digest.this_week.root_causes
    blocks.append(
        kit.section("*🧩 Top root causes of loops closed*" + ("" if causes else "\n_No loop was closed._"))
    )
    blocks += [
        kit.section(f"• {_name(cause, '_no root cause given_')} — *{n}*") for cause, n in causes[:LISTED]
    ]
    if len(causes) > LISTED:
        blocks.append(kit.context(f"…and {len(causes) - LISTED} more root causes."))
    return blocks


def _thanks_line(standing: Standing) -> str:
    parts = [f"*{standing.closed}* closed", f"💚 {standing.won_back} won back", f"👏 {standing.kudos} kudos"]
    return f"• <@{standing.user_id}> — " + " · ".join(parts)


def _best(standings: list[Standing], figure: str) -> str:
    top = sorted((s for s in standings if getattr(s, figure)), key=lambda s: (-getattr(s, figure), s.user_id))
    return ", ".join(f"<@{s.user_id}> ({getattr(s, figure)})" for s in top[:3]) or "nobody yet"


def people_to_thank(digest: Digest) -> list[dict[str, Any]]:
    standings = digest.thanks
    blocks: list[dict[str, Any]] = [kit.section("*🙌 People to thank this week*")]
    if not any(s.closed or s.won_back or s.kudos for s in standings):
        blocks.append(kit.section("_Nobody closed a loop, won a customer back or got kudos this week._"))
    else:
        blocks += [
            kit.section(_thanks_line(s)) for s in standings[:THANKED] if s.closed or s.won_back or s.kudos
        ]
        blocks.append(
            kit.context(
                f"Most loops closed: {_best(standings, 'closed')} · Won back: {_best(standings, 'won_back')}"
                f" · Kudos: {_best(standings, 'kudos')}"
            )
        )
    return blocks


def _case_line(case: CaseSnapshot, policy: Policy, now: datetime) -> str:
    where = f" in <#{case.slack_channel}>" if case.slack_channel else ""
    owner = f"<@{case.owner_id}>" if case.owner_id else "_unclaimed_"
    upcoming = next_deadline(case, now)
    due = f" · {label(STEP_LABELS, upcoming.step)} was due {when(upcoming.due_at)}" if upcoming else ""
    return f"• *{headline(case)}*{where} — {customer_line(case, policy)} · {owner}{due}"


def overdue_cases(digest: Digest, policy: Policy) -> list[dict[str, Any]]:
    shown = digest.overdue[:LISTED]
    title = f"*🔴 Overdue cases now ({digest.overdue_total})*"
    blocks = [kit.section(title + ("" if shown else "\n_None: every open case is within its deadlines._"))]
    blocks += [kit.section(_case_line(case, policy, digest.now)) for case in shown]
    if digest.overdue_total > len(shown):
        blocks.append(
            kit.context(f"…and {digest.overdue_total - len(shown)} more: `/loop overdue` lists them.")
        )
    return blocks


def missed_thank_yous(digest: Digest) -> list[dict[str, Any]]:
    if digest.missed_total == 0:
        blocks = [
            kit.section(
                "*🙏 Promoters nobody thanked*\n_None: every promoter was followed up within a week._"
            )
        ]
    else:
        lines = [
            f"• {score_label(Survey(m.survey), m.score)} in <#{m.channel}>, noticed "
            f"{slack_date(m.noticed_at.timestamp(), f'{m.noticed_at:%Y-%m-%d}', tokens='{date_short}')}"
            for m in digest.missed[:LISTED]
        ]
        extra = digest.missed_total - min(len(digest.missed), LISTED)
        if extra > 0:
            lines.append(f"…and {extra} more.")
        blocks = [
            kit.section(
                f"*🙏 Promoters nobody thanked ({digest.missed_total})*: noticed, and no one thanked them, "
                "asked for a review or noted a reference within a week\n" + "\n".join(lines)
            )
        ]
    return blocks


def thread_parts(digest: Digest, policy: Policy) -> list[Message]:
    """The thread's replies in order (the chart is uploaded after them): two messages of at most
    32 and 14 blocks, so a digest adds three posts to the channel's pace, not five."""
    week = digest.week.label
    learn = [*themes_and_causes(digest), kit.divider(), *people_to_thank(digest)]
    follow_up = [*overdue_cases(digest, policy), kit.divider(), *missed_thank_yous(digest)]
    return [
        {"text": f"Themes, root causes and people to thank, {week}", "blocks": learn},
        {
            "text": f"{digest.overdue_total} overdue cases, {digest.missed_total} promoters nobody thanked",
            "blocks": follow_up,
        },
    ]


def chart_title(digest: Digest) -> str:
    return f"NPS (± 95% margin) and closure rate, 12 weeks to {digest.week.label} · {_scope(digest)}"


def chart_comment(digest: Digest) -> str:
    return f"📈 {escape(chart_title(digest))}"
