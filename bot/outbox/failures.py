"""What a failed Slack call means for the work that caused it: wait and retry soon (rate limits,
outages), stop until an admin fixes something (bot not in the channel, channel gone, token
revoked), or give up after a few tries (anything else, e.g. a message Slack will never accept)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from slack_sdk.errors import SlackApiError

HINTS = {
    "not_in_channel": "invite the bot to the channel: type `/invite @closeloop` in <#{channel}>",
    "channel_not_found": "channel {channel} does not exist or is private — check its id in the policy file",
    "is_archived": "channel {channel} is archived — unarchive it or point the policy at another channel",
    "invalid_auth": "SLACK_BOT_TOKEN is not valid — reinstall the app and copy the new token",
    "token_revoked": "SLACK_BOT_TOKEN was revoked — reinstall the app and copy the new token",
    "account_inactive": "the bot's token belongs to a deactivated app — reinstall the app",
    "missing_scope": "the app lacks a permission — reinstall it from slack-manifest.yml",
    "ratelimited": "Slack asked us to slow down; retried after the time it named",
}
TRANSIENT = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
NEEDS_ADMIN = {
    "not_in_channel",
    "channel_not_found",
    "is_archived",
    "invalid_auth",
    "token_revoked",
    "account_inactive",
    "missing_scope",
    "restricted_action",
    "restricted_action_read_only_channel",
    "restricted_action_thread_only_channel",
    "restricted_action_non_threadable_channel",
    "messages_tab_disabled",
    "team_access_not_granted",
    "ekm_access_denied",
}
GONE = {"message_not_found", "cant_update_message"}  # an edit of a message deleted in Slack
SendError = (SlackApiError, OSError)  # OSError covers timeouts and refused connections
ADMIN_RETRY = timedelta(minutes=15)  # a fix we cannot observe (unarchived, new token) is found by then


class Kind(StrEnum):
    TRANSIENT = "transient"
    NEEDS_ADMIN = "needs_admin"
    OTHER = "other"


@dataclass(frozen=True)
class Failure:
    code: str
    reason: str  # one line for logs and admins: the code and what to do
    kind: Kind
    retry_after: float | None = None  # seconds Slack asked us to wait (HTTP 429 Retry-After)


def classify(error: Exception, channel: str | None) -> Failure:
    if not isinstance(error, SlackApiError):
        return Failure("unreachable", f"Slack unreachable ({type(error).__name__})", Kind.TRANSIENT)
    code = str(error.response.get("error", "unknown_error"))
    hint = HINTS.get(code, "")
    reason = f"{code}: {hint.format(channel=channel)}" if hint else code
    status = error.response.status_code
    if code in TRANSIENT or status >= 500 or status == 429:
        retry_after = None
        if status == 429 or code == "ratelimited":
            header = (error.response.headers or {}).get("Retry-After") or "1"
            retry_after = float(header) if str(header).isdigit() else 1.0
        return Failure(code, reason, Kind.TRANSIENT, retry_after)
    if code in NEEDS_ADMIN:
        return Failure(code, reason, Kind.NEEDS_ADMIN)
    return Failure(code, reason, Kind.OTHER)


def backoff(failures: int) -> timedelta:
    """15 s, 30 s, 1 min, … capped at 15 min: a Slack outage is not hammered, and recovery is quick."""
    return timedelta(seconds=min(15 * 2 ** max(failures - 1, 0), 900))


def message_gone(error: SlackApiError) -> bool:
    """The message to edit is no more (someone deleted it): post it afresh instead."""
    return error.response.get("error") in GONE


def explain(error: Exception, channel: str | None) -> str:
    return classify(error, channel).reason
