"""Is SLACK_BOT_TOKEN good? Asked at start-up, and again later when Slack could not say.

Only Slack's word that the token is bad stops `closeloop run`. A Slack incident (a 5xx, a 429, no
connection) at the moment of a restart or deploy must not take the intake down with it: the bot
starts, says so once, and asks again until Slack answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger("closeloop")

# Slack's answers that mean the token itself is wrong; anything else is Slack or the network.
BAD_TOKEN_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked"})
RECHECK_SECONDS = 60.0
FIX = "copy the Bot User OAuth Token again from your app's 'OAuth & Permissions' page"


class Verdict(StrEnum):
    GOOD = "good"
    BAD = "bad"
    UNKNOWN = "unknown"  # Slack could not be asked, or could not answer: ask again later


@dataclass(frozen=True)
class Answer:
    verdict: Verdict
    detail: str  # Slack's error code, or why Slack could not be asked
    identity: Mapping[str, Any] | None = None  # auth.test's answer when the token is good


def ask_slack(client: WebClient) -> Answer:
    try:
        identity = client.auth_test()
    except SlackApiError as error:
        code = str(error.response.get("error") or "")
        if code in BAD_TOKEN_ERRORS:
            return Answer(Verdict.BAD, code)
        status = getattr(error.response, "status_code", None)
        return Answer(Verdict.UNKNOWN, f"HTTP {status} {code}".strip())
    except OSError as error:  # no connection, DNS, a proxy in the way, a timeout
        return Answer(Verdict.UNKNOWN, str(getattr(error, "reason", None) or error)[:200])
    return Answer(Verdict.GOOD, f"{identity.get('user')} in {identity.get('team')}", dict(identity.data))


class TokenCheck:
    """`first()` at start-up; `again()` on a timer until Slack gives a definite answer, after
    which `settled` is True and the timer can stop."""

    def __init__(
        self,
        client: WebClient,
        on_bad: Callable[[str], None],
        on_good: Callable[[Mapping[str, Any]], None] = lambda _identity: None,
    ) -> None:
        self.client = client
        self.on_bad = on_bad  # start-up: raise; later: log an error (the bot is serving by then)
        self.on_good = on_good  # who the bot is, for authorising requests without asking Slack
        self.settled = False
        self.identity: Mapping[str, Any] | None = None  # auth.test's answer, once Slack gave it

    def first(self) -> Answer:
        answer = ask_slack(self.client)
        self._report(answer, first=True)
        return answer

    def again(self) -> None:
        if not self.settled:
            self._report(ask_slack(self.client), first=False)

    def _report(self, answer: Answer, *, first: bool) -> None:
        if answer.verdict == Verdict.GOOD:
            self.settled = True
            log.info("connected to Slack as %s", answer.detail)
            self.identity = answer.identity or {}
            self.on_good(self.identity)
        elif answer.verdict == Verdict.BAD:
            self.settled = True
            self.on_bad(f"Slack refused SLACK_BOT_TOKEN ({answer.detail}) — {FIX}")
        elif first:
            log.warning(
                "Slack could not confirm SLACK_BOT_TOKEN (%s): starting anyway — the intake is served, "
                "posts wait in the outbox, and the token is checked again every %.0f s",
                answer.detail,
                RECHECK_SECONDS,
            )
        else:
            log.debug("Slack still could not confirm SLACK_BOT_TOKEN (%s)", answer.detail)
