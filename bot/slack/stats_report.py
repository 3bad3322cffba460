"""`/loop stats`: one period's loop health, each figure with its change against the period of the
same length before it (▲/▼ and by how much).

Root causes come from the policy or from cases closed under an older one, and the department's
title from the policy, so they are escaped and cut like customer text: a hostile name must not
ping anyone or push a section past Slack's 3,000 characters. The answer is a handful of blocks,
far under the 50 a message may carry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.stats import LoopStats, StepTimes
from bot.domain.vocabulary import CaseStatus, Step
from bot.slack import kit
from bot.slack.text import fit

NAME_LIMIT = 200  # rendered characters of a cause or a title
TOP_CAUSES = 5
STEP_WORDS = {Step.CLAIM: "Claim", Step.FIRST_CONTACT: "First contact", Step.CLOSE: "Close"}
FEW_NPS = 30  # below this many NPS responses the margin is wide: said beside the figure


def _before(days: int) -> str:
    return "the day before" if days == 1 else f"the {days} days before"


def _days(since: datetime, until: datetime) -> int:
    return max(1, round((until - since).total_seconds() / 86400))


def period_words(days: int) -> str:
    return "the last day" if days == 1 else f"the last {days} days"


def duration(seconds: float | None) -> str:
    """Two units at most ('2 h 36 min', '3 d 4 h', '45 s'): a median needs no more."""
    if seconds is None:
        return "—"
    left = round(seconds)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if left >= size or (unit == "s" and not parts):
            parts.append(f"{left // size} {unit}")
            left %= size
        if len(parts) == 2 or (parts and left == 0):
            break
    return " ".join(parts)


def _change(
    now: float | None, before: float | None, *, unit: str = "", scale: float = 1, digits: int = 0
) -> str:
    """' (▲ 5 pts)' against the previous period; nothing when either side has no figure."""
    if now is None or before is None:
        return ""
    delta = round((now - before) * scale, digits)
    if delta == 0:
        return " (= same as before)"
    shown = f"{abs(delta):,.{digits}f}" if digits else f"{abs(delta):,.0f}"
    return f" ({'▲' if delta > 0 else '▼'} {shown}{unit})"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _responses(stats: LoopStats, before: LoopStats | None) -> str:
    lines = [f"*Responses:* {stats.responses:,}{_change(stats.responses, before and before.responses)}"]
    if stats.nps is None or stats.nps_margin is None:
        lines.append("*NPS:* not enough responses — no NPS answers in this period")
    else:
        few = " — few responses, read it as a range" if stats.nps_responses < FEW_NPS else ""
        lines.append(
            f"*NPS:* {stats.nps:+.0f} ±{stats.nps_margin:.0f} (95% margin, "
            f"{_plural(stats.nps_responses, 'response')}: {stats.promoters:,} promoters, "
            f"{stats.detractors:,} detractors){_change(stats.nps, before and before.nps, unit=' pts')}{few}"
        )
    if stats.csat_responses:
        lines.append(
            f"*CSAT:* {_share(stats.csat_satisfied)} satisfied (4–5 of 5), average {stats.csat_average:.2f} "
            f"({_plural(stats.csat_responses, 'response')})"
            f"{_change(stats.csat_satisfied, before and before.csat_satisfied, unit=' pts', scale=100)}"
        )
    if stats.ces_responses:
        lines.append(
            f"*CES:* average {stats.ces_average:.2f} of 7, higher is easier "
            f"({_plural(stats.ces_responses, 'response')})"
            f"{_change(stats.ces_average, before and before.ces_average, digits=2)}"
        )
    return "\n".join(lines)


def _cases(stats: LoopStats, before: LoopStats | None) -> str:
    statuses = " · ".join(f"{status.value} {stats.cases_by_status.get(status, 0):,}" for status in CaseStatus)
    rate = _share(stats.closure_rate)
    change = _change(stats.closure_rate, before and before.closure_rate, unit=" pts", scale=100)
    return (
        f"*Cases opened:* {stats.cases_opened:,}{_change(stats.cases_opened, before and before.cases_opened)}"
        f" — now {statuses}\n"
        f"*Closure rate:* {rate}{change} — {stats.cases_closed:,} of the {stats.cases_opened:,} cases "
        "opened in the period closed by its end"
    )


def _time_line(step: str, times: StepTimes, before: StepTimes | None) -> str:
    if not times.count:
        return f"• {STEP_WORDS[Step(step)]}: —"
    change = ""
    if before is not None and before.median is not None and times.median is not None:
        delta = times.median - before.median
        change = (
            " (= same as before)"
            if round(delta) == 0
            else f" ({'▲' if delta > 0 else '▼'} {duration(abs(delta))})"
        )
    return (
        f"• {STEP_WORDS[Step(step)]}: median {duration(times.median)}{change}, "
        f"90th percentile {duration(times.p90)} ({_plural(times.count, 'case')})"
    )


def _times(stats: LoopStats, before: LoopStats | None) -> str:
    lines = ["*Time from opening* (business hours where the department has them):"]
    lines += [
        _time_line(step, stats.times[step], before.times.get(step) if before else None)
        for step in stats.times
    ]
    return "\n".join(lines)


def _sla(stats: LoopStats, before: LoopStats | None) -> str:
    lines = ["*Deadlines met* (of the period's cases whose deadline came by its end):"]
    for step, sla in stats.sla.items():
        if not sla.met + sla.missed:
            lines.append(f"• {STEP_WORDS[Step(step)]}: — (none due yet)")
            continue
        previous = before.sla_hit_rate.get(step) if before else None
        change = _change(sla.hit_rate, previous, unit=" pts", scale=100)
        counts = f"{sla.met:,} met, {sla.missed:,} missed"
        lines.append(f"• {STEP_WORDS[Step(step)]}: {_share(sla.hit_rate)}{change} — {counts}")
    return "\n".join(lines)


def _causes(stats: LoopStats, before: LoopStats | None) -> str:
    won = f"*Won back:* {stats.won_back:,}{_change(stats.won_back, before and before.won_back)}"
    if not stats.root_causes:
        return f"*Root causes:* no loops closed by a person in the period\n{won}"
    lines = [f"*Top root causes* ({_plural(stats.loops_closed, 'loop')} closed in the period):"]
    for cause, n in stats.root_causes[:TOP_CAUSES]:
        name = fit(cause, NAME_LIMIT) if cause else "_not recorded_"
        lines.append(f"• {name} — {n:,} ({round(100 * n / stats.loops_closed)}%)")
    more = len(stats.root_causes) - TOP_CAUSES
    if more > 0:
        lines.append(f"…and {_plural(more, 'more cause')} (`/loop causes` lists them all).")
    lines.append(won)
    return "\n".join(lines)


def stats_answer(stats: LoopStats, title: str | None) -> dict[str, Any]:
    """`title`: the department's display name, None for the whole workspace."""
    days = _days(stats.since, stats.until)
    words = period_words(days)
    who = fit(title, NAME_LIMIT) if title else "all departments"
    before = stats.previous
    blocks = [
        kit.section(f"*📊 Loop health — {who} — {words}* (UTC, up to now), against {_before(days)}"),
        kit.section(_responses(stats, before)),
        kit.section(_cases(stats, before)),
        kit.section(_times(stats, before)),
        kit.section(_sla(stats, before)),
        kit.section(_causes(stats, before)),
        kit.context(
            "Closure rate: the cases opened in the period that were closed by its end. A deadline is met "
            "when the step was done at or before it; missed when done late, or not done once it passed."
        ),
    ]
    nps = "no NPS" if stats.nps is None else f"NPS {stats.nps:+.0f} ±{stats.nps_margin or 0:.0f}"
    text = (
        f"Loop health for {who}, {words}: {_plural(stats.responses, 'response')}, {nps}, "
        f"closure rate {_share(stats.closure_rate)}"
    )
    return {"text": text, "blocks": blocks}
