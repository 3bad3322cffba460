"""`closeloop check`: is this policy valid, and can the bot post where the policy says?

Runs without starting the bot, so an admin can check a change before deploying it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.domain.policy import Policy
from bot.policy_file import PolicyError, load_policy
from bot.settings import Settings, SettingsError, case_webhook_secrets, helpdesk_secrets, mail_settings


def policy_channels(policy: Policy) -> dict[str, str]:
    """Channel id -> what uses it, for messages an admin can act on."""
    uses: dict[str, list[str]] = {}
    for department in policy.departments:
        uses.setdefault(department.channel, []).append(f"department {department.name}")
    uses.setdefault(policy.announcements.channel, []).append("announcements")
    if policy.digest is not None and policy.digest.channel is not None:
        uses.setdefault(policy.digest.channel, []).append("the weekly digest")
    return {channel: ", ".join(names) for channel, names in uses.items()}


def channel_problems(client: WebClient, policy: Policy) -> list[str]:
    problems = []
    for channel, used_by in policy_channels(policy).items():
        try:
            info = client.conversations_info(channel=channel)["channel"]
        except OSError as error:
            problems.append(
                f"{channel} ({used_by}): not checked, Slack did not answer ({type(error).__name__})"
            )
            continue
        except SlackApiError as error:
            code = error.response.get("error")
            if code == "channel_not_found":
                problems.append(
                    f"{channel} ({used_by}): not found — check the id, or invite the bot if "
                    "it is a private channel"
                )
            else:
                problems.append(f"{channel} ({used_by}): Slack said {code}")
            continue
        if info.get("is_archived"):
            problems.append(f"{channel} ({used_by}): archived — unarchive it or use another channel")
        elif not info.get("is_member"):
            problems.append(
                f"#{info.get('name', channel)} ({used_by}): the bot is not a member — "
                f"type `/invite @closeloop` in that channel"
            )
    return problems


def run_check(settings: Settings, policy_path: str | None, *, out: Callable[[str], None] = print) -> int:
    path = policy_path or settings.policy_path
    if not path:
        raise SettingsError("no policy to check — pass --policy FILE or set CLOSELOOP_POLICY")
    try:
        policy = load_policy(path)
    except PolicyError as error:
        for problem in error.problems:
            out(f"✗ {problem}")
        return 1
    out(f"✓ {path}: valid — {len(policy.departments)} departments, {len(policy.routing.rules)} routing rules")
    unmapped = policy.sources.unmapped(list(settings.source_secrets))  # a tool's route on, its score unmapped
    try:  # the start-up check of the webhooks' secrets, without starting
        case_webhook_secrets(settings, policy.webhooks)
        secrets_missing = None
    except SettingsError as error:
        secrets_missing = str(error)
        out(f"✗ {secrets_missing}")
    try:  # telling the customer: the SMTP server, the sender and the helpdesks' secrets
        mail = mail_settings(settings)
        helpdesk_secrets(settings, {d: r.secret_env for d, r in policy.outer_loop.helpdesk.items()})
        if mail is None:
            out("· CLOSELOOP_SMTP_URL not set: follow-ups to customers by e-mail are off")
        else:
            out(f"✓ follow-ups to customers by e-mail through {mail.host}:{mail.port} ({mail.security})")
    except SettingsError as error:
        secrets_missing = secrets_missing or str(error)
        out(f"✗ {error}")
    for problem in unmapped:
        out(f"✗ {problem}")
    if settings.source_secrets and not unmapped:
        routes = ", ".join(f"/feedback/{tool}" for tool in settings.source_secrets)
        out(f"✓ survey tool webhooks on: {routes}")
    if not settings.slack_bot_token:
        out("· SLACK_BOT_TOKEN not set: channel access not checked")
        return 1 if owed_problems(settings, out) or unmapped or secrets_missing else 0
    client = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=15)
    try:
        identity = client.auth_test()
    except SlackApiError as error:
        code = error.response.get("error")
        out(f"✗ SLACK_BOT_TOKEN: Slack said {code} — copy the Bot User OAuth Token again")
        owed_problems(settings, out)  # a dead token is exactly when nothing reaches Slack
        return 1
    except OSError as error:  # no network, a proxy, DNS, a wrong SLACK_API_URL
        where = settings.slack_api_url or "https://slack.com/api/"
        reason = str(getattr(error, "reason", None) or error)[:120]
        out(
            f"✗ Slack is not reachable at {where} ({reason}) — check this machine's network or "
            "proxy (HTTPS_PROXY), or SLACK_API_URL if you set it"
        )
        owed_problems(settings, out)
        return 1
    out(f"✓ token works: bot {identity.get('user')} in {identity.get('team')}")
    problems = channel_problems(client, policy)
    for problem in problems:
        out(f"✗ {problem}")
    if not problems:
        out(f"✓ the bot can post in all {len(policy_channels(policy))} channels")
    stuck = owed_problems(settings, out)
    return 1 if problems or stuck or unmapped or secrets_missing else 0


def owed_problems(settings: Settings, out: Callable[[str], None]) -> int:
    """What the running bot could not send, from its database (without creating one)."""
    from sqlalchemy.engine import make_url

    from storage.case_webhooks import CaseWebhookStore
    from storage.db import Database
    from storage.migrate import pending
    from storage.outbox_store import OutboxStore

    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        out("· no database yet: nothing owed to Slack")
        return 0
    try:
        current, head = pending(settings.database_url)
    except Exception as error:  # a check reports; `closeloop db status` explains database trouble
        out(f"· database not checked ({type(error).__name__}): run `closeloop db status`")
        return 0
    if current != head:
        out(
            f"✗ the database schema is {current or 'empty'}, this version needs {head} — run "
            "`closeloop db upgrade` (the bot refuses to start until then)"
        )
        return 1
    database = Database(settings.database_url)
    try:
        stuck = OutboxStore(database).problems()
        stuck += [  # case events a webhook receiver did not take (its name, the last error)
            (f"case events to webhook {name}" + (" (given up)" if status == "failed" else ""), error, count)
            for name, status, error, count in CaseWebhookStore(database).problems()
        ]
    except Exception as error:  # a check reports; `closeloop db status` explains database trouble
        out(f"· database not checked ({type(error).__name__}): run `closeloop db status`")
        return 0
    finally:
        database.dispose()
    for what, reason, count in stuck:
        out(f"✗ {what}: {count} not sent — {reason}")
    if not stuck:
        out("✓ nothing owed to Slack is stuck")
    return len(stuck)
