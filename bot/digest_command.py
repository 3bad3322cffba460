"""`closeloop digest [--department D] [--week 2026-W48] [--send]`: the weekly digest as text in
the terminal (a preview: nothing is sent, nothing recorded), or sent now with `--send`.

`--send` keeps the once-per-period rule of the scheduled digest: it claims the week's row like
the scheduler does, so a week already sent (by either) is not sent again, and says when it was.
"""

from __future__ import annotations

import re
import sys
from datetime import date, datetime
from typing import Any, TextIO

from bot.settings import Settings, SettingsError

_ENTITY = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # a customer's name must not drive the terminal


def _entity(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith(("@", "#")):
        return target
    if target.startswith("!date^"):
        return label or target
    if target.startswith("!"):
        return f"@{target[1:]}"
    return f"{label} ({target})" if label else target


def plain(mrkdwn: str) -> str:
    """mrkdwn as a terminal shows it: mentions as @U…/#C…, dates as their fallback, links with
    their address, no bold markers, escaped characters back to themselves."""
    text = _ENTITY.sub(_entity, mrkdwn).replace("*", "")
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return _CONTROL.sub("", text)


def message_text(message: dict[str, Any]) -> str:
    lines: list[str] = []
    for block in message.get("blocks") or []:
        kind = block.get("type")
        if kind == "header":
            title = _CONTROL.sub("", str(block["text"]["text"]))
            lines += [title, "=" * min(len(title), 78)]
        elif kind == "section":
            if block.get("text"):
                lines.append(plain(block["text"]["text"]))
            for field in block.get("fields") or []:
                name, _, value = plain(field["text"]).partition("\n")
                lines.append(f"  {name + ':':<15} {value}")
        elif kind == "context":
            lines += [plain(e.get("text", "")) for e in block.get("elements") or []]
        elif kind == "divider":
            lines.append("-" * 40)
    return "\n".join(lines)


def _target(policy: Any, department: str | None) -> Any:
    from bot.domain.digest import target_for

    spec = policy.digest
    if spec is None:
        raise SettingsError(
            'the policy has no digest section — add one (digest: {day: mon, time: "09:00", timezone: …, '
            "channel: C…}), see the README's 'Weekly digest'"
        )
    if department is not None:
        known = [d.name for d in policy.departments]
        if department not in known:
            raise SettingsError(f"--department {department}: no such department — known: {', '.join(known)}")
        if not spec.per_department:
            raise SettingsError(
                f"--department {department}: the policy sends no department digests — set "
                "digest.per_department: true, or leave out --department for everyone's digest"
            )
    elif spec.channel is None:
        raise SettingsError(
            "the policy sends no digest for everyone (digest.channel is not set) — pass --department D "
            "for a department's digest, or set digest.channel"
        )
    return target_for(policy, department)


def _week(policy: Any, week: str | None, now: datetime) -> date:
    from bot.domain.digest_policy import last_finished_week, parse_week

    if week is None:
        return last_finished_week(policy.digest, now)
    monday = parse_week(week)
    if monday is None:
        raise SettingsError(f"--week {week}: not an ISO week — write it as YYYY-Www, e.g. 2026-W48")
    return monday


def run_digest(
    settings: Settings,
    *,
    department: str | None,
    week: str | None,
    send: bool,
    chart: str | None,
    now: datetime,
    out: TextIO | None = None,
) -> int:
    from bot.domain.digest import Week
    from bot.policy_file import load_policy
    from bot.slack.digest_message import lead_message, thread_parts
    from bot.wiring import digest_service
    from storage.db import Database

    out = out or sys.stdout
    settings.require("CLOSELOOP_POLICY")
    policy = load_policy(str(settings.policy_path))
    target = _target(policy, department)
    monday = _week(policy, week, now)
    period = Week.of(policy.digest, monday)
    if send:
        settings.require("SLACK_BOT_TOKEN")
        if period.until > now:
            ends = period.until.astimezone(policy.digest.zone)
            raise SettingsError(
                f"--week {period.label} is not over until {ends:%a %d %b %Y %H:%M} "
                f"({policy.digest.timezone}) — preview it without --send, or send a finished week"
            )
    database = Database(settings.database_url, pool_size=2)
    try:
        service = digest_service(settings, policy, database, lambda: now, slack=send)
        if not send:
            digest = service.compose(target, monday)
            parts = [lead_message(digest), *thread_parts(digest, policy)]
            note = "  (this week is not over: figures so far)" if period.until > now else ""
            print(
                f"Preview of the {period.label} digest for {target.title}, "
                f"to channel {target.channel}{note}\n",
                file=out,
            )
            for index, message in enumerate(parts):
                if index:
                    print(f"\n--- in the thread {'-' * 28}", file=out)
                print(message_text(message), file=out)
            png = service.chart(digest)
            where = f", written to {chart}" if chart else " (write it with --chart FILE)"
            print(
                f"\n--- in the thread {'-' * 28}\n[chart {digest.chart_filename}: {len(png):,} bytes{where}]",
                file=out,
            )
            if chart:
                with open(chart, "wb") as file:
                    file.write(png)
            print("\nNothing was sent. Add --send to send it now.", file=out)
            return 0
        outcome = service.send(target, monday, by="closeloop digest --send")
    finally:
        database.dispose()
    sent = outcome.send
    name = f"the {outcome.period} digest for {target.title}"
    if outcome.status == "sent":
        print(
            f"Sent {name} to channel {target.channel} (lead message {sent.lead_ts if sent else '?'}).",
            file=out,
        )
        return 0
    if outcome.status == "already_sent" and sent is not None and sent.sent_at is not None:
        print(
            f"{name.capitalize()} was already sent on {sent.sent_at:%Y-%m-%d %H:%M} UTC ({sent.sent_by}) "
            "— nothing sent again.",
            file=out,
        )
        return 1
    if outcome.status == "sending" and sent is not None:
        print(
            f"{name.capitalize()} is being sent by {sent.sent_by} "
            f"(since {sent.created_at:%Y-%m-%d %H:%M} UTC); "
            f"if that stopped, it is taken over after {sent.lease_until:%H:%M} UTC — nothing sent now.",
            file=out,
        )
        return 1
    if outcome.status == "given_up":
        print(f"{name.capitalize()} was given up: a newer week was due before it could be sent.", file=out)
        return 1
    print(
        f"closeloop: {name} could not be sent: {outcome.error} — the running bot tries again", file=sys.stderr
    )
    return 1
