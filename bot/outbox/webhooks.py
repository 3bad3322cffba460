"""Sending outbound case events: lease the lanes' heads, sign each per Standard Webhooks, POST it,
record the outcome, and tell the admins once a day about a receiver that keeps failing.

Runs as a scheduler job of its own (`CaseWebhookSender.run`), never on a request's path: a slow
receiver delays its own lanes only. Delivery is at least once: a crash after the POST and before
the row is marked leaves it pending, and it is sent again, with the same `webhook-id`, when its
lease runs out; receivers de-duplicate by that id.
"""

from __future__ import annotations

import http.client
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from math import floor

from standardwebhooks.webhooks import Webhook

from bot.domain.webhooks import ALERT_AFTER_ATTEMPTS, CaseWebhook
from bot.outbox.sender import SlackSender
from bot.slack.text import escape
from storage.admin_alerts import AdminAlerts
from storage.case_webhooks import CaseWebhookStore, OwedCall

log = logging.getLogger(__name__)

ALERT_EVERY = timedelta(days=1)
USER_AGENT = "closeloop-webhooks/1"
KEEP_SENT = timedelta(days=30)  # sent rows are deleted after this (the case history keeps the events)


@dataclass(frozen=True)
class Answer:
    """What the receiver said: its HTTP status, and Retry-After in seconds if it sent one."""

    status: int
    retry_after: float | None = None


# (url, body, headers, timeout in seconds) -> the answer; raises OSError when no answer came.
Post = Callable[[str, bytes, Mapping[str, str], float], Answer]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a new address: urllib would repeat a POST as a GET without
    its body, and the signature would go to a host the admin never named."""

    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None


def _retry_after(value: str | None) -> float | None:
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())


def post_json(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Answer:
    """One POST with the standard library's client (no dependency for a single call), never
    following redirects, with a timeout on connecting and on each read."""
    opener = urllib.request.build_opener(_NoRedirects())
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read(65536)  # a receiver's answer is not used; reading lets the connection close
            return Answer(response.status)
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, _retry_after(error.headers.get("Retry-After")))


def signed_headers(secret: str, event_id: str, now: datetime, body: str) -> dict[str, str]:
    """Standard Webhooks' three headers: the id, the try's time and `v1,<base64 HMAC-SHA256 of
    "id.timestamp.body">` (the library's own signing, so receivers' verify agrees)."""
    seconds = floor(now.timestamp())
    signature = Webhook(secret).sign(event_id, datetime.fromtimestamp(seconds, UTC), body)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": event_id,
        "webhook-timestamp": str(seconds),
        "webhook-signature": signature,
    }


class ReceiverAlerts:
    """Tells the policy's admins by DM that a receiver keeps failing: once a day per receiver,
    across processes (storage.admin_alerts keeps the count, as for Slack's own problems)."""

    def __init__(
        self, *, admins: Sequence[str], sender: SlackSender, seen: AdminAlerts, clock: Callable[[], datetime]
    ) -> None:
        self.admins = list(admins)
        self.sender = sender
        self.seen = seen
        self.clock = clock

    def alert(self, receiver: CaseWebhook, reason: str, *, given_up: bool) -> bool:
        """True when the admins were told now (the first time today)."""
        if not self.seen.due(f"webhook:{receiver.key}", self.clock(), ALERT_EVERY):
            log.warning("webhook receiver %s still failing: %s", receiver.key, reason)
            return False
        log.error("webhook receiver %s keeps failing: %s", receiver.key, reason)
        if given_up:
            after = (
                f"An event was given up after {receiver.max_attempts} tries or "
                "its time to give up; `closeloop check` lists what was not sent."
            )
        else:
            after = "Nothing is lost yet: closeloop tries again with growing pauses, in order per case."
        text = (
            f"⚠️ closeloop cannot deliver case events to the webhook *{escape(receiver.key)}* "
            f"({escape(receiver.url)}): {escape(reason)}. {after}"
        )
        for admin in self.admins:
            try:
                self.sender.tell(admin, text)
            except Exception as error:  # an alert that cannot be sent is logged, never raised
                log.warning("could not alert admin %s about webhook %s: %s", admin, receiver.key, error)
        return True


class CaseWebhookSender:
    """`secrets`: receiver key -> its `whsec_` secret (read from the environment at start-up)."""

    def __init__(
        self,
        *,
        store: CaseWebhookStore,
        webhooks: Sequence[CaseWebhook],
        secrets: Mapping[str, str],
        clock: Callable[[], datetime],
        alerts: ReceiverAlerts | None = None,
        post: Post = post_json,
        threads: int = 4,
        batch: int = 20,
    ) -> None:
        self.store = store
        self.receivers = {w.key: w for w in webhooks}
        self.secrets = dict(secrets)
        self.clock = clock
        self.alerts = alerts
        self.post = post
        self.threads = threads
        self.batch = batch
        self._last_cleanup: datetime | None = None

    def lease_seconds(self) -> float:
        """Longer than any one try can take, so a live sender never loses a row mid-call."""
        longest = max((w.timeout for w in self.receivers.values()), default=timedelta(seconds=10))
        return 2 * longest.total_seconds() + 30

    def run(self, rounds: int = 50) -> int:
        """Send what is due now, a lane's head per round (a case's next event goes once its earlier
        one is done); returns how many were delivered."""
        delivered = 0
        with ThreadPoolExecutor(self.threads, thread_name_prefix="closeloop-webhooks") as pool:
            for _ in range(rounds):
                calls = self.store.lease_heads(
                    list(self.receivers), self.clock(), self.lease_seconds(), self.batch
                )
                if not calls:
                    break
                delivered += sum(pool.map(self.send, calls))
        self._cleanup()
        return delivered

    def send(self, call: OwedCall) -> bool:
        """One try of one leased row; True when the receiver took it."""
        receiver = self.receivers[call.receiver]
        now = self.clock()
        headers = signed_headers(self.secrets[call.receiver], call.event_id, now, call.payload)
        try:
            answer = self.post(receiver.url, call.payload.encode(), headers, receiver.timeout.total_seconds())
        # Refused, reset, timed out, TLS, a bad address, an answer that is not HTTP.
        except (OSError, ValueError, http.client.HTTPException) as error:
            self._failed(call, receiver, f"no answer ({type(error).__name__}: {str(error)[:150]})", None)
            return False
        if 200 <= answer.status < 300:
            self.store.mark_sent(call.id, self.clock())
            return True
        self._failed(call, receiver, f"HTTP {answer.status}", answer.retry_after)
        return False

    def _failed(self, call: OwedCall, receiver: CaseWebhook, reason: str, retry_after: float | None) -> None:
        now = self.clock()
        attempts = call.attempts + 1
        retry_at = receiver.retry_at(attempts, call.created_at, now)
        if retry_at is not None and retry_after is not None:  # the receiver asked for a pause
            retry_at = max(retry_at, now + min(timedelta(seconds=retry_after), receiver.max_retry))
        if not self.store.mark_failed(call.id, reason, ours=call.lease_until, retry_at=retry_at):
            return  # our lease ran out and someone else has the row now: theirs to record
        if retry_at is None:
            log.error(
                "case #%s: %s to webhook %s given up after %s tries: %s",
                call.case_id,
                call.event_type,
                receiver.key,
                attempts,
                reason,
            )
        else:
            log.warning(
                "case #%s: %s to webhook %s failed (%s), try %s; again at %s",
                call.case_id,
                call.event_type,
                receiver.key,
                reason,
                attempts,
                retry_at.isoformat(),
            )
        if self.alerts is not None and (retry_at is None or attempts >= ALERT_AFTER_ATTEMPTS):
            self.alerts.alert(receiver, reason, given_up=retry_at is None)

    def _cleanup(self) -> None:
        now = self.clock()
        if self._last_cleanup is not None and now - self._last_cleanup < timedelta(hours=1):
            return
        self._last_cleanup = now
        self.store.forget_sent(now - KEEP_SENT)
