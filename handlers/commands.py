"""The `/loop` slash command: `help`, `mine`, `overdue`, `leaderboard`, `causes`, `themes`, `stats`
and `shipped` (handlers.shipped)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.app.services import Services
from bot.domain.causes import period_days
from bot.domain.leaderboard import Period
from bot.domain.stats import stats_request
from bot.slack.causes_report import causes_answer
from bot.slack.help import HELP
from bot.slack.leaderboard import leaderboard_answer
from bot.slack.links import WorkspaceLinks
from bot.slack.mine_report import LISTED, mine_answer
from bot.slack.overdue_report import overdue_report
from bot.slack.stats_report import stats_answer
from bot.slack.text import escape
from bot.slack.themes_report import themes_answer
from handlers import shipped


def overdue_answer(services: Services, words: list[str], links: WorkspaceLinks) -> dict[str, Any]:
    policy = services.policy
    if policy.sla is None:
        return {"text": "No deadlines are set — add an `sla` section to the policy file (see the README)."}
    department = words[0].lower() if words else None
    names = [d.name for d in policy.departments]
    if department is not None and department not in names:
        known = ", ".join(f"`{n}`" for n in names)
        return {"text": f"There is no department `{escape(department[:40])}`. Try one of: {known}."}
    report = services.queries.overdue(department)
    overdue = (report.overdue.total, report.overdue.cases)
    at_risk = (report.at_risk.total, report.at_risk.cases)
    return overdue_report(policy, report.now, overdue, at_risk, department=department, link=links.case_link)


def leaderboard_answer_for(services: Services, words: list[str]) -> dict[str, Any]:
    """`/loop leaderboard [week|month|quarter]`, the last 30 days by default."""
    word = words[0].lower() if words else Period.MONTH.value
    if word not in {p.value for p in Period}:
        said = escape(word[:40])
        return {"text": f"I show `week`, `month` or `quarter`, not `{said}`: try `/loop leaderboard month`."}
    return leaderboard_answer(services.leaderboard.board(Period(word)))


def causes_answer_for(services: Services, words: list[str]) -> dict[str, Any]:
    """`/loop causes [week|month|quarter|year|30d]`, the last 30 days by default."""
    word = words[0] if words else "month"
    days = period_days(word)
    if days is None:
        said = escape(word[:40])
        return {
            "text": f"I show `week`, `month`, `quarter`, `year` or a number of days from `1d` to `3660d`, "
            f"not `{said}`: try `/loop causes month`."
        }
    return causes_answer(services.queries.causes(days), services.policy)


def themes_answer_for(services: Services, words: list[str]) -> dict[str, Any]:
    """`/loop themes [department] [week|month|quarter|year|30d]`, in either order: all
    departments and the last 7 days by default (a spike shows in days, not months)."""
    names = {d.name for d in services.policy.departments}
    department = next((w.lower() for w in words if w.lower() in names), None)
    rest = [w for w in words if w.lower() != department]
    word = rest[0] if rest else "week"
    days = period_days(word)
    if days is None or len(rest) > 1:
        said = escape(" ".join(rest)[:40])
        known = ", ".join(f"`{n}`" for n in sorted(names))
        return {
            "text": f"I show a department ({known}) and `week`, `month`, `quarter`, `year` or a number of "
            f"days from `1d` to `3660d`, not `{said}`: try `/loop themes week`."
        }
    until = services.clock() + timedelta(microseconds=1)  # up to now, a response of this instant included
    report = services.queries.themes(until - timedelta(days=days), until, department)
    return themes_answer(report, services.policy)


def mine_answer_for(services: Services, user: str, links: WorkspaceLinks) -> dict[str, Any]:
    """`/loop mine`: the caller's own open cases, so no report permission is needed; the list is
    capped, the count the query gives is not."""
    mine = services.queries.open_cases_of(user, limit=LISTED)
    return mine_answer(services.policy, services.clock(), mine.total, mine.cases, link=links.case_link)


def stats_answer_for(services: Services, words: list[str]) -> dict[str, Any]:
    """`/loop stats [department] [period]`, in either order: every department and the last 30
    days by default, up to now (a response of this very instant included)."""
    names = [d.name for d in services.policy.departments]
    asked = stats_request(words, names)
    if asked.unknown or asked.repeated:
        said = escape(" ".join(asked.unknown or words)[:40])
        known = ", ".join(f"`{n}`" for n in names)
        return {
            "text": f"I don't know `{said}` here. `/loop stats` takes a department ({known}) and a period: "
            "`week`, `month`, `quarter`, `year` or a number of days from `1d` to `3660d`, in either order — "
            "e.g. `/loop stats support quarter`."
        }
    until = services.clock() + timedelta(microseconds=1)
    stats = services.queries.stats(asked.department, until - timedelta(days=asked.days), until)
    title = services.policy.department(asked.department).display_name if asked.department else None
    return stats_answer(stats, title)


def register(app: App, services: Services) -> None:
    links = WorkspaceLinks(app.client)

    @app.command("/loop")
    def loop_command(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        words = str(command.get("text") or "").split()
        if not words or words[0].lower() == "help":
            ack(text=HELP)
            return
        if words[0].lower() == "shipped":
            shipped.open_modal(services.shipped, command, words[1:], ack, client, respond)
            return
        if words[0].lower() == "mine":
            ack()  # the links need the workspace's address, a Web API call: never before ack
            respond(
                response_type="ephemeral", **mine_answer_for(services, str(command.get("user_id")), links)
            )
            return
        if words[0].lower() == "stats":
            if not services.policy.may_see_reports(str(command.get("user_id"))):
                ack(text="Reports are for managers here (permissions.reports in the policy).")
                return
            ack()
            respond(response_type="ephemeral", **stats_answer_for(services, words[1:]))
            return
        if words[0].lower() in ("overdue", "leaderboard", "causes", "themes"):
            if not services.policy.may_see_reports(str(command.get("user_id"))):
                ack(text="Reports are for managers here (permissions.reports in the policy).")
                return
            ack()  # the answer may need a Web API call (the workspace's address): never before ack
            if words[0].lower() == "overdue":
                respond(response_type="ephemeral", **overdue_answer(services, words[1:], links))
            elif words[0].lower() == "causes":
                respond(response_type="ephemeral", **causes_answer_for(services, words[1:]))
            elif words[0].lower() == "themes":
                respond(response_type="ephemeral", **themes_answer_for(services, words[1:]))
            else:
                respond(response_type="ephemeral", **leaderboard_answer_for(services, words[1:]))
            return
        ack(text=f"I don't know `/loop {escape(words[0][:40])}`.\n\n{HELP}")
