"""Settings from the environment and `.env`.

Each command asks only for what it needs (`closeloop demo` needs nothing), and the first problem
stops start-up with one line naming the variable, where it is read from, and the fix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from dotenv import dotenv_values

from bot.domain.sources import TOOLS
from bot.domain.webhooks import SECRET_HELP, CaseWebhook, secret_problem

DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite:///closeloop.sqlite3"
ENV_FILE = ".env"

HELP = {
    "SLACK_BOT_TOKEN": "the Bot User OAuth Token (xoxb-…) from your Slack app's 'OAuth & Permissions' page",
    "SLACK_SIGNING_SECRET": "the Signing Secret from your Slack app's 'Basic Information' page",
    "SLACK_APP_TOKEN": "an app-level token (xapp-…) with connections:write, from 'Basic Information' "
    "> 'App-Level Tokens' (only for --socket)",
    "CLOSELOOP_INTAKE_TOKEN": "a long random string survey tools send as 'Authorization: Bearer …' "
    "(e.g. from: python -c 'import secrets; print(secrets.token_urlsafe(32))')",
    "CLOSELOOP_INTAKE_SIGNING_SECRET": "a long random string survey tools sign requests with "
    "(X-Closeloop-Signature; e.g. from: python -c 'import secrets; print(secrets.token_hex(32))')",
    "CLOSELOOP_POLICY": "the path of your policy file (start from bot/examples/policy.yml)",
    "CLOSELOOP_INTAKE_WEBHOOK_SECRET": "a Standard Webhooks secret, 'whsec_' and the base64 of 24+ random "
    "bytes (e.g. from: python -c 'import base64, secrets; print(\"whsec_\" + "
    "base64.b64encode(secrets.token_bytes(32)).decode())')",
    "CLOSELOOP_TYPEFORM_SECRET": "a long random string that you also paste as the webhook's Secret in "
    "Typeform (the form's Connect > Webhooks > Edit)",
    "CLOSELOOP_FORMBRICKS_SECRET": "the webhook's signing secret, which starts with whsec_, as Formbricks "
    "shows it (Configuration > Integrations > Webhooks > the webhook)",
    "CLOSELOOP_WOOTRIC_SECRET": "the secret Wootric signs the account's outgoing webhooks with (or, for "
    "an account that does not sign them, a long random string sent as ?token= in the URL)",
    "CLOSELOOP_ASKNICELY_SECRET": "a long random string that AskNicely sends as 'Authorization: Bearer …' "
    "(a custom header in AskNicely's Webhooks app)",
    "CLOSELOOP_ZENDESK_SECRET": "the webhook's signing secret (Admin Center > Apps and integrations > "
    "Webhooks > the webhook > Signing secret > Reveal secret)",
}
STANDARD_WEBHOOK_SECRETS = ("CLOSELOOP_INTAKE_WEBHOOK_SECRET", "CLOSELOOP_FORMBRICKS_SECRET")
# Secrets the admin makes up (the others come from the tool): as long as the intake token.
CHOSEN_SECRETS = ("CLOSELOOP_TYPEFORM_SECRET", "CLOSELOOP_WOOTRIC_SECRET", "CLOSELOOP_ASKNICELY_SECRET")


class SettingsError(Exception):
    pass


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str | None
    slack_signing_secret: str | None
    slack_app_token: str | None
    slack_api_url: str
    database_url: str
    policy_path: str | None
    intake_token: str | None
    port: int
    source: str
    intake_signing_secret: str | None = None
    intake_webhook_secret: str | None = None  # Standard Webhooks on /feedback
    source_secrets: Mapping[str, str] = field(default_factory=dict)  # tool -> secret: its route is on
    # Every variable read (the environment and .env): the policy names its webhooks' secrets.
    environment: Mapping[str, str] = field(default_factory=dict, repr=False)

    def require(self, *names: str) -> None:
        """Fail with one clear line for the first missing setting among `names` (env var names)."""
        for name in names:
            if not getattr(self, _ATTRIBUTES[name]):
                raise SettingsError(f"{name} is not set in {self.source} — set it to {HELP[name]}")

    def require_intake_auth(self) -> None:
        """Fail with one line unless `/feedback` can authenticate someone: a token, a signing secret
        or both."""
        if not (self.intake_token or self.intake_signing_secret or self.intake_webhook_secret):
            raise SettingsError(
                f"CLOSELOOP_INTAKE_TOKEN is not set in {self.source} (nor CLOSELOOP_INTAKE_SIGNING_SECRET) "
                f"— set it to {HELP['CLOSELOOP_INTAKE_TOKEN']}, or set CLOSELOOP_INTAKE_WEBHOOK_SECRET for "
                "Standard Webhooks signatures"
            )


_ATTRIBUTES = {
    "SLACK_BOT_TOKEN": "slack_bot_token",
    "SLACK_SIGNING_SECRET": "slack_signing_secret",
    "SLACK_APP_TOKEN": "slack_app_token",
    "CLOSELOOP_INTAKE_TOKEN": "intake_token",
    "CLOSELOOP_INTAKE_SIGNING_SECRET": "intake_signing_secret",
    "CLOSELOOP_POLICY": "policy_path",
}


def _check_prefix(name: str, value: str | None, prefix: str, source: str) -> None:
    if value and not value.startswith(prefix):
        raise SettingsError(f"{name} in {source} does not start with '{prefix}' — set it to {HELP[name]}")


def _secret_problem(name: str, value: str) -> str | None:
    """What is wrong with a webhook secret's form, if anything (its value is never shown)."""
    if any(character.isspace() for character in value):
        return "contains a space or a line break — paste it again as one word"
    if name in CHOSEN_SECRETS and len(value) < 16:
        return "is shorter than 16 characters"
    if name not in STANDARD_WEBHOOK_SECRETS:
        return None
    return secret_problem(value)


def _webhook_secret(name: str, value: str | None, source: str) -> str | None:
    problem = _secret_problem(name, value) if value else None
    if problem is not None:
        raise SettingsError(f"{name} in {source} {problem} — set it to {HELP[name]}")
    return value


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: str | Path | None = ENV_FILE
) -> Settings:
    """Read settings; real environment variables win over `.env` (the usual dotenv rule)."""
    values: dict[str, str | None] = {}
    env_path = Path(env_file) if env_file else None
    if env_path and env_path.is_file():
        values.update(dotenv_values(env_path))
    values.update(os.environ if environ is None else environ)
    source = f"the environment or {env_path}" if env_path else "the environment"

    def get(name: str) -> str | None:
        value = values.get(name)
        return value.strip() or None if isinstance(value, str) else None

    bot_token, app_token = get("SLACK_BOT_TOKEN"), get("SLACK_APP_TOKEN")
    _check_prefix("SLACK_BOT_TOKEN", bot_token, "xoxb-", source)
    _check_prefix("SLACK_APP_TOKEN", app_token, "xapp-", source)

    api_url = get("SLACK_API_URL") or DEFAULT_API_URL
    if not api_url.startswith(("http://", "https://")):
        raise SettingsError(
            f"SLACK_API_URL in {source} is {api_url!r}, not an http(s) URL — leave it unset for Slack, "
            "or set the Web API root, e.g. https://slack-gov.com/api/"
        )
    if not api_url.endswith("/"):
        api_url += "/"

    database_url = get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if not database_url.startswith(("sqlite:", "postgresql", "postgres:")):
        raise SettingsError(
            f"DATABASE_URL in {source} is not a SQLite or PostgreSQL URL — use e.g. "
            "sqlite:///closeloop.sqlite3 or postgresql://user:password@host:5432/closeloop"
        )

    port_text = get("PORT") or "3000"
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise SettingsError(f"PORT in {source} is {port_text!r} — set a port number from 1 to 65535")

    intake_token = get("CLOSELOOP_INTAKE_TOKEN")
    if intake_token and len(intake_token) < 16:
        raise SettingsError(
            f"CLOSELOOP_INTAKE_TOKEN in {source} is shorter than 16 characters — set it to "
            + HELP["CLOSELOOP_INTAKE_TOKEN"]
        )
    signing_secret = get("CLOSELOOP_INTAKE_SIGNING_SECRET")
    if signing_secret and len(signing_secret) < 16:
        raise SettingsError(
            f"CLOSELOOP_INTAKE_SIGNING_SECRET in {source} is shorter than 16 characters — set it to "
            + HELP["CLOSELOOP_INTAKE_SIGNING_SECRET"]
        )
    webhook_secret = _webhook_secret(
        "CLOSELOOP_INTAKE_WEBHOOK_SECRET", get("CLOSELOOP_INTAKE_WEBHOOK_SECRET"), source
    )
    source_secrets = {}
    for tool in TOOLS:
        name = f"CLOSELOOP_{tool.upper()}_SECRET"
        secret = _webhook_secret(name, get(name), source)
        if secret:
            source_secrets[tool] = secret
    return Settings(
        slack_bot_token=bot_token,
        slack_signing_secret=get("SLACK_SIGNING_SECRET"),
        slack_app_token=app_token,
        slack_api_url=api_url,
        database_url=database_url,
        policy_path=get("CLOSELOOP_POLICY"),
        intake_token=intake_token,
        port=int(port_text),
        source=source,
        intake_signing_secret=signing_secret,
        intake_webhook_secret=webhook_secret,
        source_secrets=source_secrets,
        environment={name: value for name, value in values.items() if isinstance(value, str)},
    )


def case_webhook_secrets(settings: Settings, webhooks: list[CaseWebhook]) -> dict[str, str]:
    """Each outbound webhook's `whsec_` secret, from the variable its `secret_env` names; the
    first one missing or malformed stops start-up (and `closeloop check`) with one line."""
    secrets = {}
    for index, webhook in enumerate(webhooks):
        name = webhook.secret_env
        value = (settings.environment.get(name) or "").strip()
        if not value:
            raise SettingsError(
                f"webhooks[{index}].secret_env in the policy names {name}, which is not set in "
                f"{settings.source} — set {name} to {SECRET_HELP}"
            )
        problem = secret_problem(value)
        if problem is not None:
            raise SettingsError(
                f"{name} in {settings.source} (the policy's webhooks[{index}].secret_env) {problem} "
                f"— set it to {SECRET_HELP}"
            )
        secrets[webhook.key] = value
    return secrets


SMTP_HELP = (
    "smtp://user:password@host:587?starttls=true (or smtps://user:password@host:465; "
    "percent-encode an @ or : in the password)"
)


@dataclass(frozen=True)
class MailSettings:
    """Where follow-ups to customers are sent from (CLOSELOOP_SMTP_URL, CLOSELOOP_MAIL_FROM)."""

    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)
    security: str  # "ssl" (smtps), "starttls", or "none" (?starttls=false: a local relay only)
    sender: str  # the From header as written, e.g. "Acme Support <support@acme.example>"
    timeout: float = 30.0


def mail_settings(settings: Settings) -> MailSettings | None:
    """The SMTP server and sender, or None when CLOSELOOP_SMTP_URL is not set (e-mail off);
    a malformed value stops start-up (and `closeloop check`) with one line."""
    url = (settings.environment.get("CLOSELOOP_SMTP_URL") or "").strip()
    if not url:
        return None
    where = f"CLOSELOOP_SMTP_URL in {settings.source}"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise SettingsError(f"{where} is not a URL ({error}) — set it to {SMTP_HELP}") from error
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise SettingsError(
            f"{where} must start with smtp:// or smtps:// and name a host — set it to {SMTP_HELP}"
        )
    query = {k: v[-1].strip().lower() for k, v in parse_qs(parts.query).items()}
    unknown = sorted(set(query) - {"starttls", "timeout"})
    if unknown:
        raise SettingsError(
            f"{where} has an unknown option {unknown[0]!r} — only starttls and timeout, as in {SMTP_HELP}"
        )
    starttls = query.get("starttls", "true")
    if starttls not in ("true", "false"):
        raise SettingsError(f"{where}: starttls={starttls!r} — write starttls=true or starttls=false")
    try:
        timeout = float(query.get("timeout", "30"))
    except ValueError as error:
        raise SettingsError(f"{where}: timeout must be seconds, e.g. timeout=30") from error
    security = "ssl" if parts.scheme == "smtps" else "starttls" if starttls == "true" else "none"
    sender = (settings.environment.get("CLOSELOOP_MAIL_FROM") or "").strip()
    name, address = parseaddr(sender)
    local, _, domain = address.rpartition("@")
    if not sender or not local or "." not in domain or "\n" in sender or "\r" in sender:
        raise SettingsError(
            f"CLOSELOOP_MAIL_FROM in {settings.source} is {'not set' if not sender else 'not an address'} "
            "— set it to the From address of follow-ups, e.g. 'Acme Support <support@acme.example>'"
        )
    try:
        Address(display_name=name, addr_spec=address)
    except (ValueError, IndexError) as error:
        raise SettingsError(
            f"CLOSELOOP_MAIL_FROM in {settings.source} is not an address ({error}) — "
            "write e.g. support@acme.example"
        ) from error
    return MailSettings(
        host=parts.hostname,
        port=port or (465 if security == "ssl" else 587 if security == "starttls" else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        security=security,
        sender=sender,
        timeout=timeout,
    )


def helpdesk_secrets(settings: Settings, routes: Mapping[str, str]) -> dict[str, str]:
    """Each helpdesk route's `whsec_` secret (department -> the variable its secret_env names)."""
    secrets = {}
    for department, name in routes.items():
        value = (settings.environment.get(name) or "").strip()
        problem = "is not set" if not value else secret_problem(value)
        if problem is not None:
            raise SettingsError(
                f"{name} in {settings.source} (the policy's outer_loop.helpdesk.{department}.secret_env) "
                f"{problem} — set it to {SECRET_HELP}"
            )
        secrets[department] = value
    return secrets
