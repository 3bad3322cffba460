"""Sending follow-ups to customers: a unit of work on the outbox's pool, like the App Home's.

Run when a follow-up is queued, at every outbox sweep, and when a backoff ends. Each message is
leased, re-checked (the customer may have opted out meanwhile), marked `sending` and only then
sent; the outcome is recorded with the case change it makes. Refused or unreachable: tried again
with the outbox's backoff, then given up and shown on the case. Interrupted mid-send (a crash, a
lost answer): uncertain, and its author chooses whether to send again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk import WebClient

from bot.domain.outer_loop import compose, contact_refusal
from bot.domain.policy import Policy
from bot.domain.vocabulary import CaseStatus, FollowUp
from bot.outbox.failures import backoff
from bot.outbox.mail import (
    Addresses,
    Outcome,
    SmtpMailer,
    build_message,
    conversation_limit,
    new_message_id,
)
from bot.outbox.webhooks import Post, post_json, signed_headers
from bot.settings import MailSettings
from storage.customer_messages import CustomerMessages, Leased, MessageRecord

log = logging.getLogger(__name__)

# Tries, with the outbox's backoff between them (15 s, 30 s, 1, 2, 4 min): a mail server down
# for about seven and a half minutes is ridden out; down longer, the follow-up is shown failed.
MAX_ATTEMPTS = 6
LEASE_MARGIN = 10.0  # seconds a lease outlasts the longest send, for the clock's jitter
LEASE_SECONDS = 190.0  # without SMTP (webhooks only): longer than a helpdesk call can take
# One run holds a pool thread about this long at most (plus the send under way), then asks to
# come back at once: other units get their turn.
RUN_SECONDS = 60.0
BATCH = 20
WEBHOOK_TIMEOUT = 10.0
NOT_SET_UP = "e-mail is not set up — set CLOSELOOP_SMTP_URL and CLOSELOOP_MAIL_FROM"


@dataclass(frozen=True)
class Person:
    name: str
    email: str | None


class People:
    """The owner's name and address from Slack (`users.info`; the address needs the
    users:read.email scope), remembered for the process's life."""

    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._known: dict[str, Person] = {}

    def __call__(self, user_id: str) -> Person:
        if user_id not in self._known:
            try:
                user: dict[str, Any] = self.client.users_info(user=user_id)["user"]
            except Exception as error:  # Slack away or no scope: the policy's reply_to stands in
                log.warning("users.info for %s failed (%s); no Reply-To of their own", user_id, error)
                return Person("", None)
            profile = user.get("profile") or {}
            name = profile.get("real_name") or user.get("real_name") or user.get("name") or ""
            self._known[user_id] = Person(str(name), profile.get("email") or None)
        return self._known[user_id]


def post_to_helpdesk(post: Post, url: str, secret: str, event_id: str, now: datetime, body: str) -> Outcome:
    """A signed POST (Standard Webhooks) and what its answer means: 2xx sent; 5xx, 429 or no
    answer tried again (the same id, so the receiver drops a copy); other answers given up."""
    headers = signed_headers(secret, event_id, now, body)
    try:
        answer = post(url, body.encode(), headers, WEBHOOK_TIMEOUT)
    except (OSError, ValueError) as error:
        return Outcome(False, f"the helpdesk did not answer ({type(error).__name__})", retry=True)
    if 200 <= answer.status < 300:
        return Outcome(True)
    return Outcome(
        False,
        f"the helpdesk answered HTTP {answer.status}",
        retry=answer.status >= 500 or answer.status == 429,
    )


def send_lease_seconds(mail: MailSettings | None) -> float:
    """How long a message being sent is leased: longer than the longest SMTP conversation
    (`conversation_limit`), so a live send is never taken for a crashed one."""
    return max(LEASE_SECONDS, conversation_limit(mail) + LEASE_MARGIN if mail is not None else 0.0)


class FollowUpSender:
    def __init__(
        self,
        *,
        store: CustomerMessages,
        policy: Policy,
        clock: Callable[[], datetime],
        mail: MailSettings | None,
        people: Callable[[str], Person],
        on_changed: Callable[[int], None],
        helpdesk_secrets: Mapping[str, str] | None = None,
        mailer: SmtpMailer | None = None,
        post: Post = post_json,
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.mail = mail
        self.mailer = mailer or (SmtpMailer(mail) if mail is not None else None)
        self.people = people
        self.on_changed = on_changed  # the case message (and its thread) owe Slack an update
        self.helpdesk_secrets = dict(helpdesk_secrets or {})
        self.post = post
        self.on_deferred: Callable[[float], None] = lambda _seconds: None
        self.lease_seconds = send_lease_seconds(mail)

    def run(self) -> int:
        """Send what is due, one leased message at a time; returns how many went out. A run ends
        after RUN_SECONDS (it comes back at once for the rest), or at the first mail server that
        could not be reached (the rest would wait out the same timeout; the backoff brings it
        back)."""
        start = self.clock()
        for message in self.store.find_interrupted(start, MAX_ATTEMPTS):
            log.error(
                "case #%s: follow-up %s was being sent when the bot stopped: %s",
                message.case_id,
                message.id,
                message.status,
            )
            self.on_changed(message.case_id)
        sent = 0
        more = True
        for _ in range(BATCH):
            now = self.clock()
            if (now - start).total_seconds() >= RUN_SECONDS:
                break
            leased = self.store.lease_next(now, self.lease_seconds)
            if leased is None:
                more = False
                break
            try:
                outcome = self._send(leased)
            except Exception:  # one message's trouble never stops the others; its lease runs out
                log.exception("follow-up %s could not be sent", leased.message.id)
                continue
            sent += outcome is not None and outcome.sent
            if outcome is not None and outcome.unreachable:
                more = False
                break
        after = self.clock()
        due = self.store.next_retry_at(after)
        if more:
            self.on_deferred(0.0)
        elif due is not None:
            self.on_deferred((due - after).total_seconds())
        return sent

    def _send(self, leased: Leased) -> Outcome | None:
        """The outcome of sending it, or None when nothing was tried."""
        message, case = leased.message, leased.case
        if case.status != CaseStatus.CLOSED or case.follow_up != FollowUp.SENDING:
            self.store.cancel(message.id, "the loop is open again, or no longer waiting for it")
            return None
        outer = self.policy.outer_loop
        refusal = contact_refusal(outer, case)
        if refusal is not None:  # re-checked at sending: an opt-out may have come in meanwhile
            self._give_up(message.id, message.case_id, refusal.reason)
            return None
        author = self.people(message.author)
        composed = compose(outer, case, author.name, message.note)
        if message.via == "webhook":
            outcome = self._webhook(leased, composed.subject, author)
            if outcome is None:
                return None
        else:
            if self.mailer is None or self.mail is None:
                self._give_up(message.id, message.case_id, NOT_SET_UP)
                return None
            reply_to = author.email or outer.reply_to
            message_id = new_message_id(self.mail.sender)
            if not self._mark_sending(message, reply_to, message_id):
                return None  # our lease ran out and someone else may have it
            addresses = Addresses(self.mail.sender, case.customer_name, case.customer_email or "", reply_to)
            outcome = self.mailer.send(build_message(composed, addresses, self.clock(), message_id))
        self._record(leased, outcome)
        return outcome

    def _mark_sending(self, message: MessageRecord, reply_to: str | None, header: str) -> bool:
        assert message.lease_until is not None
        return self.store.mark_sending(
            message.id, message.lease_until, self.clock(), self.lease_seconds, reply_to, header
        )

    def _webhook(self, leased: Leased, subject: str, author: Person) -> Outcome | None:
        """The helpdesk sends it: a signed POST whose id is the same on every try, so a copy sent
        again after a crash is dropped by the receiver."""
        message, case = leased.message, leased.case
        route = self.policy.outer_loop.helpdesk[case.department]
        event_id = f"msg_followup_{message.id}"
        if not self._mark_sending(message, author.email, event_id):
            return None  # our lease ran out and someone else has it
        now = self.clock()
        body = json.dumps(
            {
                "type": "customer.follow_up",
                "timestamp": now.isoformat(),
                "data": {
                    "case_id": case.id,
                    "response_id": case.external_id,
                    "survey": case.survey,
                    "customer": {
                        "id": case.customer_id,
                        "name": case.customer_name,
                        "email": case.customer_email,
                    },
                    "language": case.language,
                    "subject": subject,
                    "note": message.note,
                    "author": {"slack_id": message.author, "name": author.name, "email": author.email},
                },
            },
            separators=(",", ":"),
        )
        return post_to_helpdesk(
            self.post, route.url, self.helpdesk_secrets[case.department], event_id, now, body
        )

    def _record(self, leased: Leased, outcome: Outcome) -> None:
        message = leased.message
        now = self.clock()
        if outcome.sent:
            self.store.mark_sent(message.id, now)
            self.on_changed(message.case_id)
            return
        attempts = message.attempts + 1
        if outcome.uncertain:
            log.error(
                "case #%s: follow-up %s may or may not have gone: %s",
                message.case_id,
                message.id,
                outcome.reason,
            )
            self.store.mark_failed(message.id, outcome.reason, now, uncertain=True)
            self.on_changed(message.case_id)
        elif outcome.retry and attempts < MAX_ATTEMPTS:
            retry_at = now + backoff(attempts)
            log.warning(
                "case #%s: follow-up %s not sent (%s); again at %s",
                message.case_id,
                message.id,
                outcome.reason,
                retry_at,
            )
            self.store.retry_later(message.id, outcome.reason, retry_at)
        else:
            self._give_up(message.id, message.case_id, outcome.reason)

    def _give_up(self, message_id: int, case_id: int, reason: str) -> None:
        log.error("case #%s: follow-up %s given up: %s", case_id, message_id, reason)
        self.store.mark_failed(message_id, reason, self.clock())
        self.on_changed(case_id)
